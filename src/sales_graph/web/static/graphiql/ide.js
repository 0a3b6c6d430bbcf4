// Starts GraphiQL on the page of src/sales_graph/web/graphiql.py. A file, not an inline
// script, so that the page's Content-Security-Policy allows scripts from 'self' only.
// The page's settings (first query, headers hint) come in the JSON block #graphiql-settings.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("graphiql-settings").textContent);
  // Subscriptions go over graphql-transport-ws on the same path (docs/real-time.md); the
  // headers editor's Authorization (or X-API-Key) becomes connection_init's payload.
  var socket = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host;
  var fetcher = GraphiQL.createFetcher({
    url: window.location.pathname,
    subscriptionUrl: socket + window.location.pathname,
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: settings.query,
      defaultHeaders: settings.headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      // A bearer token stays in the page, not in localStorage.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    }),
  );
})();
