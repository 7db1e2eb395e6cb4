// Insights filters: typing a date means custom dates, so the period follows (the server lets a
// preset win over dates otherwise). Without JavaScript, pick "Custom dates" by hand.
document.addEventListener("input", (event) => {
  const input = event.target;
  if (!input.matches(".insights-filters input[type=date]")) return;
  const period = input.form.querySelector("select[name=range]");
  if (period) period.value = "custom";
});
