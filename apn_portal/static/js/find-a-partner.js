/* Find-a-Partner's small enhancements. The page works without them; htmx does the in-place updates. */
(function () {
  "use strict";

  // On a narrow screen the filters fold into their heading's button (see find-a-partner.css), so the
  // results are near the top while focus still meets the filters first, as they are seen. Whether they
  // are open outlives the swaps that replace them each time a filter is ticked.
  var filtersOpen = false;

  function showFilters(filters) {
    filters.classList.toggle("is-open", filtersOpen);
    filters.querySelector(".fap-filters__toggle").setAttribute("aria-expanded", String(filtersOpen));
  }

  function enhance(root) {
    root.querySelectorAll(".fap-filters").forEach(function (filters) {
      var toggle = filters.querySelector(".fap-filters__toggle");
      if (!toggle) return;
      filters.classList.add("fap-filters--foldable");
      toggle.hidden = false;
      showFilters(filters);
    });
    if (!("geolocation" in navigator)) return;
    root.querySelectorAll("[data-locate]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
  });
  document.addEventListener("htmx:load", function (event) {
    enhance(event.target);
  });

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".fap-filters__toggle");
    if (!toggle) return;
    filtersOpen = !filtersOpen;
    showFilters(toggle.closest(".fap-filters"));
  });

  // Said to screen readers: what #search-status announces.
  function say(text) {
    var status = document.getElementById("search-status");
    if (status) status.textContent = text;
  }

  // The results' count as their heading says it ("12 partners, 1–10 shown").
  function countShown() {
    var heading = document.getElementById("results-heading");
    return heading ? heading.textContent.replace(/\s+/g, " ").trim() : "";
  }

  // The count and the notes about the search ("There is no tier “bogus”, so it was left out."), as a
  // search says them (partners/_results.html): a note may change what the results mean.
  function resultsShown() {
    var notes = Array.from(document.querySelectorAll(".fap-notes li")).map(function (note) {
      return note.textContent.replace(/\s+/g, " ").trim();
    });
    return countShown() + (notes.length ? ". " + notes.join(" ") : "");
  }

  // "Use my location": fill the place's coordinates and search. While the browser finds the place the
  // button says so and ignores clicks, with aria-disabled: a disabled button would lose keyboard focus,
  // to the top of the page. Once the place is found (or not) it is ready again, before the search goes:
  // the search shows itself as any other does (dimmed results, then the count or the failure said), and
  // whatever becomes of it the button does not stay "Finding your location…".
  var LOCATE_LABEL = "Use my location";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-locate]");
    if (!button || button.getAttribute("aria-disabled") === "true") return;
    var form = button.form;
    button.setAttribute("aria-disabled", "true");
    button.textContent = "Finding your location…";
    say("Finding your location…");
    // The button a search may have swapped in meanwhile, or this one.
    function ready(label) {
      var current = form.querySelector("[data-locate]") || button;
      current.removeAttribute("aria-disabled");
      current.textContent = label;
    }
    navigator.geolocation.getCurrentPosition(
      function (position) {
        ready(LOCATE_LABEL);
        form.elements.lat.value = position.coords.latitude.toFixed(4);
        form.elements.lng.value = position.coords.longitude.toFixed(4);
        if (!form.elements.radius.value) form.elements.radius.value = "100";
        say("Searching near your location…");
        form.requestSubmit();
        // The place of the results shown: not sent again (see htmx:configRequest), they stand.
        if (!pending) say(countShown());
      },
      function () {
        ready("Location unavailable: type the coordinates");
        say("Your location is not available: type the coordinates.");
      },
      { maximumAge: 600000, timeout: 10000 }
    );
  });

  // A filter's chip, or a suggestion to drop a filter ("Drop the industry"), is a link to the results
  // without it, written with them. A box unticked since, its search on its way, would be ticked again by
  // it (the link's search replacing the untick's): rather, the link unticks its boxes or empties its
  // fields in the form, and the form searches, as it is now. A click with Ctrl, Cmd or Shift, or with
  // another button than the first, is the browser's: a new tab or window, on the link's address.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-drop]");
    if (!link || event.defaultPrevented) return;
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    var form = link.closest("form");
    if (!form) return;
    var value = link.getAttribute("data-drop-value");
    var controls = [];
    link.getAttribute("data-drop").split(" ").forEach(function (name) {
      Array.from(form.elements).forEach(function (control) {
        if (control.name !== name) return;
        if (value !== null && control.value !== value) return;
        controls.push(control);
      });
    });
    // Not among the form's fields (none is written for it): the link's own address, as a page.
    if (!controls.length) return;
    event.preventDefault();
    controls.forEach(function (control) {
      if (control.type === "checkbox" || control.type === "radio") control.checked = false;
      else control.value = "";
    });
    form.requestSubmit();
  });

  // Addresses compared by their parameters, in any order.
  function addressOf(path, query) {
    var sorted = new URLSearchParams();
    Array.from(new Set(query.keys())).sort().forEach(function (name) {
      query.getAll(name).forEach(function (value) { sorted.append(name, value); });
    });
    return new URL(path, window.location.href).pathname + "?" + sorted.toString();
  }

  // Leave empty fields out of the request, so the address that htmx pushes stays short and shareable. A
  // search for what the page shows already (Enter after the words' own search) is not sent again: it
  // would cost the server a search and the history a second entry of the same address, which Back would
  // seem to do nothing about. Unless the last search failed: then the results are not what the address
  // says, and this one is the retry.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") return;
    var parameters = event.detail.parameters;
    var query = new URLSearchParams();
    Object.keys(parameters).forEach(function (name) {
      var value = parameters[name];
      if (value === "" || (Array.isArray(value) && value.every(function (item) { return item === ""; }))) {
        delete parameters[name];
        return;
      }
      [].concat(value).forEach(function (item) { query.append(name, item); });
    });
    if (event.detail.elt.id !== "partner-search" || document.getElementById("search-failed")) return;
    var shown = addressOf(window.location.pathname, new URLSearchParams(window.location.search));
    if (addressOf(event.detail.path, query) === shown) event.preventDefault();
  });

  // A search not answered by then is given up and said to have failed (below), rather than leave the
  // results dimmed for as long as the connection hangs.
  var SEARCH_TIMEOUT_MS = 15000;
  if (window.htmx) window.htmx.config.timeout = SEARCH_TIMEOUT_MS;

  // The request on its way, if any: its XMLHttpRequest and the element that asked for it. While there is
  // one the results are busy, for screen readers as they are dimmed for the eyes (find-a-partner.css).
  var pending = null;
  function showBusy() {
    document.querySelectorAll(".fap-results").forEach(function (results) {
      if (pending) results.setAttribute("aria-busy", "true");
      else results.removeAttribute("aria-busy");
    });
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    pending = { xhr: event.detail.xhr, elt: event.detail.elt };
    showBusy();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (pending && pending.xhr === event.detail.xhr) pending = null;
    showBusy();
  });

  // Back or Forward while a request is on its way: the page is the one gone back to, and the late answer
  // must neither fill the results nor put its address in the bar over them.
  function gone(elt) {
    return Boolean(elt) && !document.contains(elt);
  }
  document.addEventListener("htmx:historyRestore", function () {
    if (pending && pending.xhr) pending.xhr.abort();
    pending = null;
    // htmx keeps a copy of the page as a search's answer arrives, still busy.
    showBusy();
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (gone(event.detail.elt)) event.detail.shouldSwap = false;
  });
  document.addEventListener("htmx:beforeHistoryUpdate", function (event) {
    // htmx replaces the address when it does not push it: with the one the page shows.
    if (!gone(event.detail.elt)) return;
    event.detail.history.type = "replace";
    event.detail.history.path = window.location.href;
  });

  // The search box stands outside the results that htmx swaps, so no response puts the words in it: make
  // it say what `address` searches for, or the next filter ticked would search other words than these
  // results were found with.
  function showWords(address) {
    var words = document.getElementById("id_q");
    if (words) words.value = new URL(address, window.location.href).searchParams.get("q") || "";
  }

  // After a link changed the results in place (a page, a filter's chip, a suggestion to loosen), the
  // link is gone: put keyboard and screen-reader users at the top of the new results, and make the
  // search box say what the new address searches for. A swap the form asked for keeps the box as it is
  // (it sent those words, and may hold more typed since, on their way in the next request) and focus
  // where it was: htmx puts it back on the box ticked or the order chosen, which have ids. A control
  // without one ("Apply filters", "Use my location") is gone with the old results, and focus with it, to
  // the top of the page: put it at the top of the new results instead.
  // The filters' button on a phone is hidden until enhance() shows it, after htmx has tried to put focus
  // back on it: whether it had focus is kept here, and focus is put back below.
  var filtersToggleHadFocus = false;
  document.addEventListener("htmx:beforeSwap", function () {
    filtersToggleHadFocus = Boolean(document.activeElement && document.activeElement.id === "filters-toggle");
  });

  var wordsWhenSent = null;
  document.addEventListener("htmx:beforeRequest", function () {
    var words = document.getElementById("id_q");
    wordsWhenSent = words ? words.value : null;
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!source) return;
    var heading = document.getElementById("results-heading");
    if (source.tagName === "A" && source.closest("#search-region")) {
      // Words typed while the results were on their way are the next search: kept, and focus with them.
      var words = document.getElementById("id_q");
      if (words && (document.activeElement === words || words.value !== wordsWhenSent)) return;
      showWords(source.getAttribute("hx-get") || source.getAttribute("href"));
      if (heading) heading.focus();
    } else if (source.id === "partner-search") {
      var focused = document.activeElement;
      if (focused && focused !== document.body) return;
      var toggle = document.getElementById("filters-toggle");
      if (filtersToggleHadFocus && toggle && !toggle.hidden) toggle.focus();
      else if (heading) heading.focus();
    }
  });

  // Back and Forward: htmx puts back a copy of the page as it was left, with the search box as the server
  // first wrote it (a copy keeps attributes, not what was typed), or asks the server for the page again.
  // Either way the address is what the results searched for. Their count and notes are said, as a
  // search's are: the copy's status says what it said as the page was left (that a search failed, say),
  // and a screen reader would hear nothing of the change. It is emptied at once and the count written a
  // moment later, as a live region just put in the page is not heard saying what it came with; unless a
  // search goes first.
  var countToSay = null;
  document.addEventListener("htmx:historyRestore", function () {
    showWords(window.location.href);
    say("");
    window.clearTimeout(countToSay);
    countToSay = window.setTimeout(function () {
      say(resultsShown());
    }, 100);
  });
  document.addEventListener("htmx:beforeRequest", function () {
    window.clearTimeout(countToSay);
  });

  // A value the browser refuses (a latitude of 95) stops the search: say why, beside the field, rather
  // than leave the results as they were without a word.
  document.addEventListener("htmx:validation:failed", function (event) {
    if (event.target && event.target.reportValidity) event.target.reportValidity();
  });

  // A place is typed in two fields, one after the other: leaving the latitude for the longitude must not
  // search with half a place, which the results would leave out, emptying what was typed. A change in
  // the place's fields searches once the place is whole, or gone (both coordinates emptied: its radius
  // goes too; a radius typed first waits for them); "Apply filters" sends it as it is. In the capture
  // phase, before the form's own listener (htmx) sees the change.
  document.addEventListener(
    "change",
    function (event) {
      var field = event.target;
      if (!field.closest || !field.closest(".facet--near") || !field.form) return;
      var elements = field.form.elements;
      var lat = elements.lat.value, lng = elements.lng.value;
      if (lat !== "" && lng !== "") return;
      if (lat === "" && lng === "" && field.name !== "radius") {
        elements.radius.value = "";
        return;
      }
      event.stopPropagation();
      if (!field.checkValidity()) field.reportValidity();
    },
    true
  );

  // A search that could not be sent, or that the server failed to answer (in time), changes nothing on
  // the page: say so, or the boxes ticked would stand over results they did not filter.
  function sayTheSearchFailed() {
    say("The search could not be done; check your connection and try again.");
    var region = document.getElementById("search-region");
    if (!region || document.getElementById("search-failed")) return;
    var message = document.createElement("p");
    message.id = "search-failed";
    message.className = "message error";
    message.textContent = "These results are not updated: the search could not be done. Try again.";
    region.parentNode.insertBefore(message, region);
  }
  document.addEventListener("htmx:sendError", sayTheSearchFailed);
  document.addEventListener("htmx:responseError", sayTheSearchFailed);
  document.addEventListener("htmx:timeout", sayTheSearchFailed);

  // Make the form say what the address searches for: the words, boxes, place and order of the page gone
  // back to, rather than those of the page left, which the results (not updated) still show. "Apply
  // filters" then sends the search the address and the message speak of, not another. A value of the
  // address with no field or box for it here (a box the results left have no partner for, the page
  // number) goes along hidden, in the part a search replaces.
  function showAddress(form, address) {
    var params = new URL(address, window.location.href).searchParams;
    var unmatched = [];
    params.forEach(function (value, name) { unmatched.push([name, value]); });
    function matched(name, value) {
      for (var i = 0; i < unmatched.length; i++) {
        if (unmatched[i][0] === name && unmatched[i][1] === value) return unmatched.splice(i, 1);
      }
    }
    Array.from(form.elements).forEach(function (control) {
      if (!control.name || control.type === "submit" || control.type === "button") return;
      if (control.hasAttribute("data-from-address")) return;
      if (control.type === "checkbox" || control.type === "radio") {
        control.checked = params.getAll(control.name).indexOf(control.value) !== -1;
        if (control.checked) matched(control.name, control.value);
        return;
      }
      var wanted = params.get(control.name) || "";
      control.value = wanted;
      if (wanted !== "" && control.value === wanted) matched(control.name, wanted);
    });
    var region = document.getElementById("search-region");
    form.querySelectorAll("[data-from-address]").forEach(function (input) { input.remove(); });
    unmatched.forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      input.setAttribute("data-from-address", "");
      (region || form).appendChild(input);
    });
  }

  // The window title partners/search.html gives `address`, which the tab and the history list show: the
  // words if the server would search them (as long as the box takes, not blank), and the page asked for
  // (one past the last would be said to be the last). Of a parameter sent twice the server reads the last.
  function titleOf(address) {
    var params = new URL(address, window.location.href).searchParams;
    function last(name) {
      var values = params.getAll(name);
      return values.length ? values[values.length - 1].trim() : "";
    }
    var title = "Find a partner";
    var words = last("q");
    var box = document.getElementById("id_q");
    var longest = box && box.maxLength > 0 ? box.maxLength : Infinity;
    if (words && words.length <= longest) title += ": " + words;
    var number = last("page");
    if (/^[0-9]+$/.test(number) && Number(number) > 1) title += " (page " + Number(number) + ")";
    var site = document.title.lastIndexOf(" · ");
    return title + (site === -1 ? "" : document.title.slice(site));
  }

  // Back or Forward to a page htmx no longer keeps (it keeps ten) asks the server for it, after the
  // address has changed: if the server errs, or the connection is down, the results of the page left stand
  // under the address of the other. Said as any failed search is, so that the next one is sent (see
  // htmx:configRequest above), and the form put in step with the address, so that it is the one sent.
  // What the page left said of its own results (its filters in use, their number, the counts beside the
  // boxes) would contradict the boxes and the address: not shown (find-a-partner.css) until a search
  // replaces the region. htmx reports an error status, not a request that could not be sent.
  // htmx would keep this page, as it is left, under the address of the page it replaced in vain (it moves
  // on to the new address only on success): Back or Forward to that one would bring it back with its
  // filters in use hidden and the other's values in hidden fields, sent along by its next search. The
  // message, until a search removes it, tells htmx to keep no copy (hx-history="false"): the page left
  // comes back as it was kept, or from the server.
  function sayTheHistoryFailed() {
    sayTheSearchFailed();
    var failed = document.getElementById("search-failed");
    if (failed) failed.setAttribute("hx-history", "false");
    document.title = titleOf(window.location.href);
    var form = document.getElementById("partner-search");
    if (!form) return;
    showAddress(form, window.location.href);
    var region = document.getElementById("search-region");
    if (region) region.classList.add("fap-region--not-updated");
  }
  document.addEventListener("htmx:historyCacheMissLoadError", sayTheHistoryFailed);
  document.addEventListener("htmx:historyCacheMiss", function (event) {
    event.detail.xhr.timeout = SEARCH_TIMEOUT_MS;
    event.detail.xhr.addEventListener("error", sayTheHistoryFailed);
    event.detail.xhr.addEventListener("timeout", sayTheHistoryFailed);
  });
  document.addEventListener("htmx:afterSwap", function () {
    var message = document.getElementById("search-failed");
    if (message) message.remove();
  });
})();
