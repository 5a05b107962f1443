// Stay at the bottom while a reply grows, unless the reader scrolled up.
const scroller = () => document.getElementById("thread-wrap");

export const nearBottom = () => {
  const el = scroller();
  return !el || el.scrollHeight - el.scrollTop - el.clientHeight < 80;
};

export const toBottom = () => {
  const el = scroller();
  if (el) el.scrollTop = el.scrollHeight;
};
