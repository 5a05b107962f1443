// Site-wide behaviour, no inline scripts (the CSP forbids them).
document.addEventListener("change", (event) => {
  const select = event.target.closest("select.autosubmit");
  if (select) select.form.requestSubmit();
});
