// Claim marks (book/_ext/claims.py): hover and keyboard focus show a mark's popover through
// CSS alone; this script adds a click, a tap, Enter or Space to open and close it (touch
// screens have no hover), Escape to dismiss it, and keeps the popover inside the window.
(() => {
  "use strict";
  const OPEN = "is-open";
  const DISMISSED = "is-dismissed";

  const popoverOf = (claim) => claim.querySelector(".vaelab-claim-pop");
  const buttonOf = (claim) => claim.querySelector(".vaelab-claim-mark");

  // Shift the popover sideways so that it stays 8 px inside the window.
  function place(claim) {
    const pop = popoverOf(claim);
    if (!pop) return;
    pop.style.setProperty("--vaelab-shift", "0px");
    const box = pop.getBoundingClientRect();
    const room = document.documentElement.clientWidth - 8;
    let shift = 0;
    if (box.right > room) shift = room - box.right;
    if (box.left + shift < 8) shift = 8 - box.left;
    pop.style.setProperty("--vaelab-shift", `${Math.round(shift)}px`);
  }

  function setOpen(claim, open) {
    claim.classList.toggle(OPEN, open);
    claim.classList.remove(DISMISSED);
    buttonOf(claim)?.setAttribute("aria-expanded", String(open));
    if (open) place(claim);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest?.(".vaelab-claim-mark");
    const clicked = button?.closest(".vaelab-claim");
    for (const claim of document.querySelectorAll(`.vaelab-claim.${OPEN}`)) {
      if (claim !== clicked && !claim.contains(event.target)) setOpen(claim, false);
    }
    if (clicked) setOpen(clicked, !clicked.classList.contains(OPEN));
  });

  document.addEventListener("keydown", (event) => {
    const mark = event.target.closest?.(".vaelab-claim-mark");
    if (mark && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault(); // Space would scroll the page
      const claim = mark.closest(".vaelab-claim");
      setOpen(claim, !claim.classList.contains(OPEN));
      return;
    }
    if (event.key !== "Escape") return;
    const claim = document.activeElement?.closest?.(".vaelab-claim");
    for (const open of document.querySelectorAll(`.vaelab-claim.${OPEN}`)) setOpen(open, false);
    if (claim) {
      claim.classList.add(DISMISSED);
      buttonOf(claim)?.focus();
    }
  });

  // Hover or focus: place the popover; leaving undoes an Escape.
  for (const kind of ["mouseover", "focusin"]) {
    document.addEventListener(kind, (event) => {
      const claim = event.target.closest?.(".vaelab-claim");
      if (claim) place(claim);
    });
  }
  for (const kind of ["mouseleave", "focusout"]) {
    document.addEventListener(
      kind,
      (event) => {
        const claim = event.target.closest?.(".vaelab-claim");
        if (claim && !claim.contains(event.relatedTarget)) claim.classList.remove(DISMISSED);
      },
      true,
    );
  }
})();
