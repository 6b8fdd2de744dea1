// The dashboard's only script, served from /static/app.js: the Content-Security-Policy
// allows no inline script. Print buttons, and the incident feed's live rows.
(function () {
  document.querySelectorAll('button.print').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });
  var body = document.getElementById('incident-rows');
  if (!body || !window.EventSource) return;
  var src = new EventSource('/incidents/stream?after=' + encodeURIComponent(body.dataset.after || '0'));
  src.addEventListener('incidents', function (e) {
    JSON.parse(e.data).forEach(function (i) {
      var tr = document.createElement('tr');
      tr.className = 'new';
      [i.received, i.phone || '', i.title].forEach(function (v) {
        var td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
      });
      body.insertBefore(tr, body.firstChild);
    });
  });
})();
