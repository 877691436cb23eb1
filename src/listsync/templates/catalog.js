"use strict";
(() => {
  const box = document.getElementById("filter");
  if (!box) return;
  const rows = Array.from(document.querySelectorAll("tr[data-search]"));
  const sections = Array.from(document.querySelectorAll("section[data-section]"));
  const count = document.getElementById("filter-count");
  const noMatch = document.getElementById("no-match");
  const apply = () => {
    const words = box.value.toLowerCase().split(/\s+/).filter((word) => word !== "");
    let shown = 0;
    for (const row of rows) {
      const text = row.dataset.search;
      const match = words.every((word) => text.includes(word));
      row.hidden = !match;
      if (match) shown += 1;
    }
    for (const section of sections) {
      section.hidden = section.querySelector("tr[data-search]:not([hidden])") === null;
    }
    noMatch.hidden = shown !== 0;
    count.value = words.length === 0 ? rows.length + " lists" : shown + " of " + rows.length + " lists";
  };
  box.addEventListener("input", apply);
  box.form.addEventListener("submit", (event) => event.preventDefault());
  box.form.hidden = false;
  apply();
})();
