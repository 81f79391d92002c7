// Runs in the browser, inside the GraphiQL page that src/graphql/graphiql.ts renders (plain
// JavaScript, no build step). GraphiQL is mounted only once an API key is known, with a
// fetcher that adds the key itself: so the very first introspection already carries it and
// the Docs explorer and autocomplete work without the re-fetch button.
/* global YogaGraphiQL */
(function (config) {
  'use strict';
  var KEY = 'account-gateway.graphiql.apiKey';
  var PARTNER = 'account-gateway.graphiql.partner';
  var NOTICE = 'account-gateway.graphiql.notice';
  // Only this origin's endpoint is ever called with the key (the page's CSP allows no other).
  var endpoint = location.origin + config.endpoint;
  var hiddenTypes = new Set(config.hiddenTypes);
  var hiddenQueryFields = new Set(config.hiddenQueryFields);
  var memory = {};

  // sessionStorage: kept while the tab lives, gone when it closes, never shared with other tabs.
  function get(name) {
    try {
      return window.sessionStorage.getItem(name);
    } catch (e) {
      return memory[name] || null;
    }
  }
  function set(name, value) {
    try {
      if (value === null) window.sessionStorage.removeItem(name);
      else window.sessionStorage.setItem(name, value);
    } catch (e) {
      if (value === null) delete memory[name];
      else memory[name] = value;
    }
  }

  var panel = document.getElementById('ag-signin');
  var form = document.getElementById('ag-form');
  var input = document.getElementById('ag-key');
  var button = document.getElementById('ag-submit');
  var message = document.getElementById('ag-message');
  var root = document.getElementById('root');
  var session = document.getElementById('ag-session');
  document.getElementById('ag-origin').textContent = endpoint;

  function say(text, kind) {
    message.textContent = text || '';
    message.className = 'ag-message' + (kind ? ' ag-' + kind : '');
  }

  function firstMessage(json, status) {
    var error = json && json.errors && json.errors[0];
    return (error && error.message) || 'HTTP ' + status;
  }

  /** POSTs a GraphQL request to this origin with the key (or the one given) as a bearer. */
  function post(body, extraHeaders, key) {
    var headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    var bearer = key || get(KEY);
    if (bearer) headers.authorization = 'Bearer ' + bearer;
    var own = false;
    // Headers typed in GraphiQL's Headers tab win: an explicit Authorization there is used as is.
    Object.keys(extraHeaders || {}).forEach(function (name) {
      headers[name.toLowerCase()] = String(extraHeaders[name]);
      if (name.toLowerCase() === 'authorization') own = true;
    });
    return fetch(endpoint, {
      method: 'POST',
      headers: headers,
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    }).then(function (response) {
      return response.text().then(function (text) {
        var json;
        try {
          json = JSON.parse(text);
        } catch (e) {
          json = {
            errors: [{ message: 'The server answered HTTP ' + response.status + ' with a body that is not JSON.' }],
          };
        }
        return { status: response.status, json: json, own: own };
      });
    });
  }

  // Federation's entry points (_entities, _service) are for routers, not analysts: left out of
  // the schema GraphiQL builds, so the Docs explorer and autocomplete do not offer them.
  function hideFederation(schema) {
    var queryName = schema.queryType && schema.queryType.name;
    schema.types = schema.types.filter(function (type) {
      return !hiddenTypes.has(type.name);
    });
    schema.types.forEach(function (type) {
      if (type.name === queryName && type.fields) {
        type.fields = type.fields.filter(function (field) {
          return !hiddenQueryFields.has(field.name);
        });
      }
    });
  }

  function fetcher(params, options) {
    var body = {
      query: params.query,
      operationName: params.operationName || undefined,
      variables: params.variables || undefined,
    };
    return post(body, options && options.headers).then(function (result) {
      // The signed-in key stopped working (revoked, expired): back to the sign-in form.
      if (result.status === 401 && !result.own) {
        refused(firstMessage(result.json, result.status));
        return result.json;
      }
      if (result.json && result.json.data && result.json.data.__schema) hideFederation(result.json.data.__schema);
      return result.json;
    });
  }

  function refused(reason) {
    set(KEY, null);
    set(PARTNER, null);
    set(NOTICE, 'The server refused the API key: ' + reason);
    location.reload();
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function mount() {
    panel.hidden = true;
    root.hidden = false;
    // Outside GraphiQL's React tree, fixed above it: GraphiQL's panes would cover it otherwise.
    var partner = get(PARTNER);
    session.innerHTML =
      (partner ? 'Signed in: <b>' + escapeHtml(partner) + '</b>' : 'Signed in') +
      ' <button type="button" id="ag-signout" class="ag-signout">Sign out</button>';
    session.hidden = false;
    var options = Object.assign({}, config.graphiql, { fetcher: fetcher });
    YogaGraphiQL.renderYogaGraphiQL(root, options);
    openDocsAtQuery();
  }

  // The Docs explorer opens at its root ("Root Types — query: Query") and GraphiQL 5 keeps its
  // navigation in a store of its own that no option or export reaches. So once the schema has
  // loaded, this follows the explorer's own Query link, once, while the analyst has not
  // navigated yet: the first view lists Query's fields.
  function openDocsAtQuery() {
    var observer = new MutationObserver(follow);
    function follow() {
      var explorer = root.querySelector('.graphiql-doc-explorer');
      if (!explorer) return;
      if (explorer.querySelector('.graphiql-doc-explorer-back')) return observer.disconnect();
      var labels = explorer.querySelectorAll('.graphiql-doc-explorer-root-type');
      for (var i = 0; i < labels.length; i++) {
        if (labels[i].textContent !== 'query') continue;
        var link = labels[i].parentNode.querySelector('a.graphiql-doc-explorer-type-name');
        if (!link) return;
        observer.disconnect();
        link.click();
        return;
      }
    }
    observer.observe(root, { childList: true, subtree: true });
    // Only the first view: a schema that takes longer leaves the explorer where it is.
    setTimeout(function () {
      observer.disconnect();
    }, 60000);
  }

  document.addEventListener('click', function (event) {
    if (!event.target.closest || !event.target.closest('#ag-signout')) return;
    set(KEY, null);
    set(PARTNER, null);
    set(NOTICE, 'Signed out.');
    location.reload();
  });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var key = input.value.trim().replace(/^Bearer\s+/i, '');
    if (!key) return say('Enter an API key.', 'error');
    button.disabled = true;
    say('Checking the key…');
    post({ query: 'query SignIn { viewer { isAdmin partner { name } } }', operationName: 'SignIn' }, null, key)
      .then(function (result) {
        var viewer = result.json && result.json.data && result.json.data.viewer;
        if (result.status === 200 && viewer) {
          set(KEY, key);
          set(PARTNER, viewer.partner ? viewer.partner.name : viewer.isAdmin ? 'operator' : '');
          input.value = '';
          say('');
          return mount();
        }
        var reason = firstMessage(result.json, result.status);
        say(
          result.status === 401 || result.status === 403
            ? 'The server refused this key: ' + reason
            : 'Signing in failed: ' + reason,
          'error',
        );
        input.select();
      })
      .catch(function () {
        say('Could not reach ' + endpoint + '.', 'error');
      })
      .then(function () {
        button.disabled = false;
      });
  });

  if (get(KEY)) {
    mount();
  } else {
    panel.hidden = false;
    var notice = get(NOTICE);
    set(NOTICE, null);
    if (notice) say(notice, /refused/.test(notice) ? 'error' : null);
    input.focus();
  }
})(window.__ACCOUNT_GATEWAY_GRAPHIQL__);
