// Draw every chart of the page: each <script type="application/json" class="zoo-spec"> holds a
// Vega-Lite spec (with its data inline) for the element named by its data-target.
(function () {
  for (const block of document.querySelectorAll("script.zoo-spec")) {
    const target = document.getElementById(block.dataset.target);
    if (!target) continue;
    const spec = JSON.parse(block.textContent);
    window.vegaEmbed(target, spec, {actions: false, renderer: "svg"}).catch(function (error) {
      target.textContent = "This chart could not be drawn: " + error;
      console.error(error);
    });
  }
})();
