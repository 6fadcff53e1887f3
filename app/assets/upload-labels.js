// Gives each upload zone's file input the zone's own words as its accessible name
// ("Checkpoint (.safetensors, .pt, .onnx): drop or choose a file"). dcc.Upload renders the input with no
// label, so a screen reader announced only "file" when Tab reached it.
(function () {
  function name() {
    document.querySelectorAll(".upload input[type=file]:not([aria-label])").forEach(function (input) {
      var zone = input.closest(".upload");
      var words = zone ? zone.textContent.replace(/\s+/g, " ").trim() : "";
      if (words) {
        input.setAttribute("aria-label", words);
      }
    });
  }
  new MutationObserver(name).observe(document.documentElement, {childList: true, subtree: true});
})();
