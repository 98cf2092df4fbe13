/* The vaelab book in the reader's browser: what the theme leaves undone.
 *
 * 1. The sidebar buttons in the article header work at every width (phones included).
 * 2. A click on a figure opens it at full size, in a viewer that scrolls and closes on Escape.
 * 3. A table, log, formula or code block wider than the page shows that it scrolls.
 * 4. Search snippets are the page's words: no theme labels, raw LaTeX or quiz verdicts.
 */
(() => {
  "use strict";

  const ready = (fn) =>
    document.readyState === "loading"
      ? document.addEventListener("DOMContentLoaded", fn)
      : fn();

  /* 1. pydata-sphinx-theme wires only the first `.primary-toggle` and `.secondary-toggle` on
   * the page, the (hidden) ones in the top header, so the ones sphinx-book-theme shows in the
   * article header did nothing below its wide layout. Forward their clicks to the wired ones,
   * which open the sidebar as a dialog on narrow screens and fold it away on wide ones. */
  function forwardSidebarButtons() {
    for (const kind of ["primary", "secondary"]) {
      const wired = document.querySelector(`.${kind}-toggle`);
      if (!wired) continue;
      document.querySelectorAll(`.bd-header-article .${kind}-toggle`).forEach((button) => {
        if (button === wired) return;
        button.addEventListener("click", (event) => {
          event.preventDefault();
          event.stopPropagation();
          // after a tap, focus would come back to the button when the sidebar closes, and
          // keep its tooltip up; from the keyboard (no pointer: detail 0) it should come back
          if (event.detail > 0) button.blur();
          wired.click();
        });
      });
    }
  }

  /* 2. Figures shrink to the text column (a wide multi-panel figure to half its size on a
   * desktop, a fifth on a phone). A click opens the image at its own size. */
  function figureViewer() {
    const figures = document.querySelectorAll("article.bd-article img:not(a img)");
    if (!figures.length) return;
    const viewer = document.createElement("dialog");
    viewer.className = "vaelab-viewer";
    viewer.setAttribute("aria-label", "The figure at full size");
    viewer.innerHTML =
      '<div class="vaelab-viewer-frame"><img alt=""></div>' +
      '<button type="button" class="vaelab-viewer-close" aria-label="Close">&times;</button>';
    document.body.appendChild(viewer);
    const frame = viewer.querySelector(".vaelab-viewer-frame");
    const image = viewer.querySelector("img");
    const close = () => viewer.open && viewer.close();
    viewer.querySelector(".vaelab-viewer-close").addEventListener("click", close);
    frame.addEventListener("click", (event) => event.target === frame && close());
    viewer.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        // Sphinx's sphinx_highlight.js swallows Escape before the dialog sees it
        event.preventDefault();
        event.stopPropagation();
        close();
      }
    });
    // A click on the image switches between its own size and the screen's.
    image.addEventListener("click", () => image.classList.toggle("vaelab-fit"));
    figures.forEach((figure) => {
      figure.classList.add("vaelab-zoomable");
      figure.tabIndex = 0;
      figure.setAttribute("role", "button");
      figure.title = "Open the figure at full size";
      const open = () => {
        image.src = figure.currentSrc || figure.src;
        image.alt = figure.alt;
        image.style.width = `${figure.naturalWidth}px`; // its own size, whatever the screen
        image.classList.remove("vaelab-fit");
        viewer.showModal();
        frame.scrollTo(0, 0);
      };
      figure.addEventListener("click", open);
      figure.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          open();
        }
      });
    });
  }

  /* 3. An element wider than its column scrolls sideways; a shadow on the side(s) with more
   * says so. The element is wrapped in a frame that holds the shadows, so that nothing
   * inside it (table cells, code backgrounds) covers them. */
  const SCROLLERS = [
    "article.bd-article pre",
    "article.bd-article .cell_output .output.text_html",
    "article.bd-article .pst-scrollable-table-container",
    "article.bd-article div.math",
    "article.bd-article .vaelab-wide-math",
  ].join(", ");

  function frameOf(element) {
    const parent = element.parentElement;
    if (parent && parent.classList.contains("vaelab-scroll-frame")) return parent;
    const frame = document.createElement("div");
    frame.className = "vaelab-scroll-frame";
    if (getComputedStyle(element).display.startsWith("inline")) frame.classList.add("inline");
    element.replaceWith(frame);
    frame.appendChild(element);
    element.addEventListener("scroll", () => shade(element), { passive: true });
    return frame;
  }

  function shade(element) {
    const more = element.scrollWidth - element.clientWidth;
    const frame = element.parentElement;
    if (!frame || !frame.classList.contains("vaelab-scroll-frame")) return;
    frame.classList.toggle("vaelab-more-left", more > 1 && element.scrollLeft > 1);
    frame.classList.toggle("vaelab-more-right", more > 1 && element.scrollLeft < more - 1);
  }

  function markScrollers() {
    document.querySelectorAll(SCROLLERS).forEach((element) => {
      if (element.closest(".vaelab-viewer")) return;
      const scrolls = element.scrollWidth > element.clientWidth + 1;
      if (scrolls) {
        frameOf(element);
        element.classList.add("vaelab-scrolls");
        if (!element.hasAttribute("tabindex")) element.tabIndex = 0; // scrollable by keyboard
      }
      shade(element);
    });
  }

  /* Inline formulas cannot break across lines (MathJax 3); one wider than its line becomes
   * a box of the line's width that scrolls. */
  function markWideInlineMath() {
    document.querySelectorAll("article.bd-article span.math").forEach((math) => {
      const box = math.closest("p, li, td, dd") || math.parentElement;
      const formula = math.querySelector("mjx-container") || math;
      const wide = formula.getBoundingClientRect().width > box.clientWidth;
      if (wide) math.classList.add("vaelab-wide-math");
    });
  }

  function layoutHints() {
    markWideInlineMath();
    markScrollers();
  }

  /* 4. Sphinx's search shows a snippet of each page found, from the page's HTML: the whole
   * <main>, with the theme's buttons and contents, the formulas' LaTeX and the quizzes'
   * verdicts. Take the article's prose instead. */
  function searchSnippets() {
    if (typeof Search === "undefined" || !Search.htmlToText) return;
    const NOT_PROSE = [
      ".headerlink",
      "script",
      "style",
      ".bd-header-article",
      ".bd-sidebar-secondary",
      ".prev-next-area",
      "footer",
      ".vaelab-quiz-right",
      ".vaelab-quiz-wrong",
      ".vaelab-quiz details p",
    ];
    Search.htmlToText = (htmlString, anchor) => {
      const html = new DOMParser().parseFromString(htmlString, "text/html");
      html.querySelectorAll(NOT_PROSE.join(", ")).forEach((element) => element.remove());
      html.querySelectorAll(".math").forEach((math) => math.replaceWith(" \u2026 "));
      // a space after each block, so that list items and cells do not run together
      html
        .querySelectorAll("p, li, summary, dt, dd, td, th, pre, h1, h2, h3, h4, h5, h6")
        .forEach((block) => block.append(" "));
      const article =
        html.querySelector("article.bd-article") || html.querySelector('[role="main"]');
      if (!article) return "";
      const part = anchor ? article.querySelector(anchor) : null;
      return (part || article).textContent.replace(/\s+/g, " ");
    };
  }

  ready(() => {
    forwardSidebarButtons();
    figureViewer();
    searchSnippets();
    // after the formulas are typeset (MathJax, a deferred script, has started by "load")
    const afterTypeset = () => {
      const typeset = window.MathJax && MathJax.startup && MathJax.startup.promise;
      (typeset || Promise.resolve()).then(layoutHints);
    };
    if (document.readyState === "complete") afterTypeset();
    else window.addEventListener("load", afterTypeset);
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(layoutHints, 200);
    });
  });
})();
