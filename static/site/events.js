// Server-sent events read from a fetch() response (the answer to a send is
// the reply's own stream), with the part of EventSource's interface the
// follower uses, and `open(url)` for re-attaching with a real EventSource.

export class ResponseEvents {
  constructor(response, controller) {
    this.listeners = {};
    this.controller = controller;
    this.closed = false;
    this.pump(response);
  }

  addEventListener(name, handler) {
    (this.listeners[name] = this.listeners[name] || []).push(handler);
  }

  close() {
    this.closed = true;
    this.controller.abort();
  }

  emit(name, data) {
    (this.listeners[name] || []).forEach((handler) => handler({ data }));
  }

  dispatch(block) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length) this.emit(name, data.join("\n"));
  }

  async pump(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          this.dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (err) {
      // Aborted, or the network broke: "broken" below says which matters.
    }
    if (!this.closed) this.emit("broken", "{}");
  }
}

// An EventSource reconnects by itself after a network error and gets a fresh snapshot.
export const open = (url) => new EventSource(url);
