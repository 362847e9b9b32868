// The review page: plays the call, seeks on clicks, shows the playhead, saves verdicts.
(function () {
  'use strict';
  var name = document.body.dataset.call;
  var path = name.split('/').map(encodeURIComponent).join('/');
  var audio = document.getElementById('audio');
  var svg = document.getElementById('timeline');
  var NS = 'http://www.w3.org/2000/svg';
  var X0 = 60, X1 = 985, LANES = { agent: 40, caller: 70 };
  var KINDS = { violation: '违规', situation: '情况', hint: '提示' };
  var SPEAKERS = { agent: '坐席', caller: '客户' };
  var duration = 1, verdicts = {}, events = [];

  function clock(t) {
    var m = Math.floor(t / 60), s = (t - 60 * m).toFixed(1);
    return m + ':' + (s < 10 ? '0' : '') + s;
  }
  function x(t) { return X0 + (X1 - X0) * Math.max(0, Math.min(t, duration)) / duration; }
  function el(tag, attrs, text) {
    var node = tag.indexOf('svg:') === 0 ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function seek(t) {
    audio.currentTime = Math.max(0, t);
    drawPlayhead();
    if (audio.paused && audio.src) audio.play().catch(function () {});
  }

  function drawTimeline(report) {
    report.utterances.forEach(function (u) {
      svg.appendChild(el('svg:rect', { class: u.speaker, x: x(u.start), y: LANES[u.speaker], width: Math.max(1, x(u.end) - x(u.start)), height: 22 }));
    });
    svg.appendChild(el('svg:text', { x: 4, y: 55 }, '坐席'));
    svg.appendChild(el('svg:text', { x: 4, y: 85 }, '客户'));
    for (var t = 0; t <= duration; t += duration > 120 ? 30 : 5) {
      svg.appendChild(el('svg:text', { x: x(t), y: 112, 'text-anchor': 'middle' }, clock(t).replace(/\.\d$/, '')));
    }
    events.forEach(function (e, i) {
      var dot = el('svg:circle', { class: 'marker ' + e.kind, cx: x(e.t), cy: 20, r: 6, 'data-index': i });
      dot.appendChild(el('svg:title', {}, clock(e.t) + ' ' + (e.title || e.id)));
      svg.appendChild(dot);
    });
    svg.appendChild(el('svg:line', { id: 'playhead', x1: X0, x2: X0, y1: 8, y2: 98 }));
    svg.addEventListener('click', function (ev) {
      var box = svg.getBoundingClientRect();
      var at = (ev.clientX - box.left) * 1000 / box.width;
      var index = ev.target.getAttribute('data-index');
      seek(index !== null ? events[index].start : (at - X0) / (X1 - X0) * duration);
    });
  }

  function drawPlayhead() {
    var line = document.getElementById('playhead');
    if (!line) return;
    var at = x(audio.currentTime || 0).toFixed(1);
    line.setAttribute('x1', at); line.setAttribute('x2', at);
    document.querySelectorAll('#transcript tr.current').forEach(function (r) { r.classList.remove('current'); });
    document.querySelectorAll('#transcript tbody tr').forEach(function (r) {
      if (+r.dataset.start <= audio.currentTime && audio.currentTime <= +r.dataset.end) r.classList.add('current');
    });
  }

  function showVerdict(row, index) {
    var v = verdicts[index];
    row.classList.remove('confirmed', 'false_alarm');
    if (v) row.classList.add(v.verdict);
    row.querySelectorAll('button.verdict').forEach(function (b) {
      b.classList.toggle('on', !!v && b.dataset.verdict === v.verdict);
    });
  }

  function save(index, verdict, note) {
    var body = JSON.stringify({ index: index, id: events[index].id, verdict: verdict, note: note });
    return fetch('/api/verdict/' + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body })
      .then(function (r) { return r.json().then(function (data) { if (!r.ok) throw new Error(data.error); return data; }); })
      .then(function (data) {
        verdicts = data.verdicts;
        document.getElementById('saved').textContent = '已保存到 ' + data.saved;
        document.body.dataset.saved = String(Object.keys(verdicts).length);
        return data;
      })
      .catch(function (err) { document.getElementById('saved').textContent = '保存失败：' + err.message; });
  }

  function eventRow(e, i) {
    var row = el('tr', { class: 'seekable', 'data-index': i });
    row.appendChild(el('td', {}, clock(e.t)));
    row.appendChild(el('td', {}, KINDS[e.kind] || e.kind));
    var what = el('td', {});
    what.appendChild(el('code', {}, e.id));
    if (e.title) what.appendChild(el('div', {}, e.title));
    if (e.fatal) what.appendChild(el('b', { class: 'bad' }, '致命项'));
    row.appendChild(what);
    row.appendChild(el('td', {}, [e.heard && '「' + e.heard + '」', e.detail, e.say && '应说：' + e.say].filter(Boolean).join(' · ')));
    var review = el('td', { class: 'review' });
    [['confirmed', '确认'], ['false_alarm', '误报']].forEach(function (pair) {
      var b = el('button', { class: 'verdict ' + pair[0], 'data-verdict': pair[0], type: 'button' }, pair[1]);
      b.addEventListener('click', function (ev) {
        ev.stopPropagation();
        var current = verdicts[i] && verdicts[i].verdict === pair[0];
        save(i, current ? null : pair[0], row.querySelector('input.note').value).then(function () { showVerdict(row, i); });
      });
      review.appendChild(b);
    });
    row.appendChild(review);
    var cell = el('td', { class: 'note-cell' });
    var note = el('input', { class: 'note', type: 'text', placeholder: '备注' });
    note.value = verdicts[i] ? verdicts[i].note : '';
    note.addEventListener('click', function (ev) { ev.stopPropagation(); });
    note.addEventListener('change', function () { if (verdicts[i]) save(i, verdicts[i].verdict, note.value); });
    cell.appendChild(note);
    row.appendChild(cell);
    row.addEventListener('click', function () { seek(e.start); });
    showVerdict(row, i);
    return row;
  }

  fetch('/api/call/' + path).then(function (r) { return r.json(); }).then(function (data) {
    var report = data.report;
    duration = Math.max(report.call.duration, 1);
    events = report.events;
    verdicts = data.verdicts;
    document.title = name + ' · 通话复核';
    document.getElementById('title').textContent = name;
    document.getElementById('static-page').href = data.static_page;
    document.getElementById('facts').textContent = '时长 ' + clock(report.call.duration) + (report.call.agent ? ' · 坐席 ' + report.call.agent : '') + ' · 复核结果保存为 ' + data.labels_file;
    document.getElementById('score').textContent = report.score.value + '/' + report.score.start;
    if (report.score.failed) document.getElementById('fatal').textContent = '致命项：本通话不合格';
    if (data.audio) audio.src = data.audio; else document.getElementById('no-audio').hidden = false;
    drawTimeline(report);
    var tbody = document.querySelector('#events tbody');
    events.forEach(function (e, i) { tbody.appendChild(eventRow(e, i)); });
    var lines = document.querySelector('#transcript tbody');
    report.utterances.forEach(function (u) {
      var row = el('tr', { class: 'seekable', 'data-start': u.start, 'data-end': u.end });
      row.appendChild(el('td', {}, clock(u.start)));
      row.appendChild(el('td', {}, SPEAKERS[u.speaker] || u.speaker));
      row.appendChild(el('td', {}, u.text));
      row.addEventListener('click', function () { seek(u.start); });
      lines.appendChild(row);
    });
    document.body.dataset.ready = '1';
  });
  audio.addEventListener('timeupdate', drawPlayhead);
  audio.addEventListener('seeked', drawPlayhead);
  (function tick() { if (!audio.paused) drawPlayhead(); requestAnimationFrame(tick); })();
})();
