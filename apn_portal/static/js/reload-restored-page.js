/* On every page shown to a signed-in user. A browser may keep a page it leaves in its back/forward cache
   and show it again on Back without asking the portal; after signing out that would be the private page
   left behind. A page restored so is loaded again: the portal then answers for whoever is signed in now,
   or with the sign-in page. */
(function () {
  "use strict";

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });
})();
