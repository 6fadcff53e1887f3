// A guided scenario picked: the list of scenarios folds, so the panels (and the scenario's note
// above them) come into view. The page folds the element itself: html.Details' `open` prop does
// not follow a click on the summary, so a server-side fold was lost once a user had opened it.
document.addEventListener("click", event => {
  const link = event.target instanceof Element && event.target.closest(".scenario-link");
  const list = link && link.closest("details");
  if (list) { list.open = false; }
});
