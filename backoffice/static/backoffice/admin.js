"use strict";
// Names for the admin widgets that scripts build, which axe-core found unnamed. This file is
// deferred, so it runs after the admin's own scripts have registered theirs: its handlers run
// after those that build the widgets.

// select2 named a picker only by its chosen value, so an empty Donor or Pledge picker had no
// name: name it by the field's label, then the value.
function nameAutocompletes() {
    document.querySelectorAll("select.admin-autocomplete[id]").forEach((select) => {
        const label = document.querySelector(`label[for="${select.id}"]`);
        const box = select.parentElement.querySelector(".select2-selection");
        const shown = document.getElementById(`select2-${select.id}-container`);
        if (!label || !box || !shown) {
            return;
        }
        label.id = label.id || `${select.id}-label`;
        box.setAttribute("aria-labelledby", `${label.id} ${shown.id}`);
        shown.setAttribute("aria-labelledby", label.id);
    });
}

if (window.django && window.django.jQuery) {
    window.django.jQuery(nameAutocompletes); // after autocomplete.js's own ready handler
}

// SelectFilter2's search icons carry an aria-label, which a plain span may not: they are images.
window.addEventListener("load", () => {
    document.querySelectorAll(".selector .search-label-icon[aria-label]").forEach((icon) => {
        icon.setAttribute("role", "img");
    });
});
