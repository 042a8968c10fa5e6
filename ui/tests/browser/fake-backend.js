// A stand-in for the Rust shell, injected before the app loads: it answers the app's
// commands and emits engine events the way the shell does (Tauri's IPC internals).
(() => {
  const callbacks = new Map();
  const listeners = new Map();
  let nextId = 1;
  let nextDownload = 1;
  const now = Math.floor(Date.now() / 1000);
  const state = {
    downloads: [],
    files: {},
    settings: { destination: '/home/user/Downloads/MASV', max_active_downloads: 3, connections_per_download: 16, adaptive_connections: true,
      bandwidth_limit: null, notifications: true, open_folder_when_done: false, agent_api: false, inbox_poll_secs: 60, package_folders: true, hash_algorithm: 'xxh128', keep_awake: true, trusted_senders: [], agent_api_token: false, clipboard_capture: false },
    /** Why clipboard capture cannot work (null: it can). */
    clipboardProblem: null,
    calls: [],
    dropped: [],
    schedule: { limits: [], only_between: [] },
    /** Links kept while MASV cannot be reached. */
    waiting: [],
    /** Links from outside the shell is holding, by token: their previews. */
    parked: {},
    inbox: {
      teamId: null,
      key: null,
      packages: [
        { id: 'pkg-final', name: 'Trailer v3 conform', state: 'finalized', sender: 'post@vendor.example', size: 8 << 20,
          total_files: 2, created_at: now - 86400, contains_virus: false, portal_id: 'portal-edit', uploading: false,
          expires_at: now + 9 * 86400, teamspace_id: 'ts-post', tag: { id: 'tag-final', name: 'Finals' } },
        { id: 'pkg-up', name: 'Day 2 rushes', state: 'new', sender: 'dit@set.example', size: 12 << 20,
          total_files: 2, created_at: now, contains_virus: false, portal_id: 'portal-edit', uploading: true,
          expires_at: now + 10 * 86400, teamspace_id: 'ts-set', tag: null },
        { id: 'pkg-stills', name: 'Stills for poster', state: 'finalized', sender: 'art@studio.example', size: 3 << 20,
          total_files: 1, created_at: now - 3600, contains_virus: false, portal_id: 'portal-edit', uploading: false,
          expires_at: now + 20 * 3600, teamspace_id: 'ts-post', tag: { id: 'tag-art', name: 'Key art' } },
        { id: 'pkg-old', name: 'Old selects', state: 'expired', sender: 'post@vendor.example', size: 1 << 20,
          total_files: 1, created_at: now - 900000, contains_virus: true, portal_id: null, uploading: false,
          expires_at: now - 86400, teamspace_id: 'ts-post', tag: null },
      ],
      portals: [{ id: 'portal-edit', name: 'Editorial', subdomain: 'editorial', watched: false, folder: null, since: null }],
      failures: [],
    },
  };
  const emit = (event, payload) => {
    for (const id of listeners.get(event) ?? []) callbacks.get(id)?.({ event, id, payload });
  };
  const summary = (id, name, files, over = {}) => ({
    id, name, package_id: `pkg-${id}`, sender_email: 'editor@studio.example', link: `https://get.massive.app/${id}?secret=***`, origin: { kind: 'link' },
    dst_folder: state.settings.destination, state: 'transferring', error: null,
    total_bytes: files.reduce((s, f) => s + (f.virus_detected || f.state === 'excluded' ? 0 : f.size), 0), bytes_done: 0,
    file_count: files.length, files_chosen: files.filter((f) => f.state !== 'excluded').length, files_complete: 0, files_skipped: files.filter((f) => f.state === 'skipped').length, virus_files: files.filter((f) => f.virus_detected).map((f) => f.package_path),
    created_at: now + nextId, completed_at: null, expires_at: null, priority: 0, after_error: null, rate_limit: null, ...over,
  });
  const file = (index, path, size, over = {}) => ({ index, file_id: `f${index}`, kind: 'file', package_path: path, path,
    size, bytes_done: 0, state: 'pending', error: null, virus_detected: false, kept_aside: null, ...over });
  const add = (name, files, over) => {
    const id = `d${nextDownload++}`;
    state.files[id] = files;
    const d = summary(id, name, files, over);
    state.downloads.push(d);
    emit('engine', { type: 'added', download: d });
    return id;
  };
  // As the engine does when a download leaves the list (deleted, or replaced by a repair).
  const forget = (id) => {
    state.downloads = state.downloads.filter((d) => d.id !== id);
    emit('engine', { type: 'removed', id });
  };
  const demoFiles = () => [
    file(0, 'Coastline/Day 1/A001_C002.mov', 48 << 20), file(1, 'Coastline/Day 1/A001_C003.mov', 32 << 20),
    file(2, 'Coastline/Audio/Scène 4 – take 2.wav', 12 << 20), file(3, 'Read me.txt', 180),
    file(4, 'invoice.pdf.exe', 300000, { virus_detected: true, state: 'virus_withheld' }),
  ];
  // A package downloaded into a folder that already held its twin, as the engine saves
  // it: a taken name gets a ` (1)`, and a name that tried to leave the folder is saved
  // inside it.
  const twinFiles = () => [
    file(0, 'Day 1/A001_C002.mov', 24 << 20, { path: 'Day 1/A001_C002 (1).mov' }),
    file(1, '../../../notes.txt', 180, { path: 'notes.txt' }),
  ];
  const manyFiles = () => Array.from({ length: 10000 }, (_, i) => file(i, `batch-${String(Math.floor(i / 100)).padStart(3, '0')}/file-${String(i).padStart(5, '0')}.dat`, 4096));
  const commands = {
    get_settings: () => state.settings,
    // The folder dialog: what the person picks (nothing unless a test says).
    'plugin:dialog|open': () => state.pickedFolder ?? null,
    bandwidth_schedule: () => ({ schedule: state.schedule, status: scheduleStatus() }),
    set_bandwidth_schedule: ({ schedule }) => {
      state.schedule = schedule;
      return { schedule, status: scheduleStatus() };
    },
    set_settings: ({ settings }) => (state.settings = settings),
    list_downloads: () => state.downloads,
    ui_ready: () => null,
    start_demo: () => add('Inbound demo: Coastline rushes', demoFiles()),
    list_package: ({ url }) => {
      const files = url.includes('many') ? manyFiles() : demoFiles();
      const listed = files.map((f) => ({ id: f.file_id, path: f.path, size: f.size, state: f.virus_detected ? 'virus_withheld' : 'pending' }));
      return { preview: { name: url.includes('many') ? 'Ten thousand frames' : 'Pasted delivery', package_id: 'pkg-pick', sender_email: 'editor@studio.example',
        file_count: files.length, total_bytes: files.reduce((n, f) => n + f.size, 0), sizes_complete: true, withheld: 1 }, files: listed };
    },
    add_link: ({ url, password, fileIds, again }) => {
      state.lastFileIds = fileIds ?? null;
      if (url.includes('seen')) {
        // As the engine does for a person pasting: a package already downloaded is said so.
        const before = state.downloads.find((d) => d.link.startsWith('https://get.massive.app/seen'));
        if (before && !again) {
          throw { code: 'downloaded_before', download_id: before.id,
            message: `“${before.name}” is already ${before.state === 'complete' ? 'downloaded' : 'being downloaded'} into ${before.dst_folder}` };
        }
        state.again = again ?? null;
        const copies = state.downloads.filter((d) => d.name === 'Seen delivery').length;
        return add('Seen delivery', demoFiles(), { link: 'https://get.massive.app/seen?secret=***',
          dst_folder: `${state.settings.destination}/Seen delivery${copies ? ` (${copies})` : ''}` });
      }
      if (fileIds) {
        const files = demoFiles().map((f) => (f.virus_detected || fileIds.includes(f.file_id) ? f : { ...f, state: 'excluded' }));
        return add('Pasted delivery', files);
      }
      if (url.includes('offline')) {
        // As the engine does: a download of its own, not listed yet, waiting for the network.
        const linkId = new URL(url).pathname.slice(1);
        return add(`Link ${linkId}`, [], { package_id: '', link: url.replace(/secret=[^&]*/, 'secret=***'),
          waiting: { reason: 'network', message: 'MASV cannot be reached (could not connect to the server)',
            retry_at: Math.floor(Date.now() / 1000) + 15 } });
      }
      if (url.includes('locked')) {
        if (!password) throw { code: 'password_required', message: 'this link is protected by a password' };
        if (password !== 'letmein') throw { code: 'wrong_password', message: 'wrong password for this link' };
      }
      if (url.includes('many')) return add('Ten thousand frames', manyFiles());
      if (url.includes('twin')) return add('Coastline twin', twinFiles());
      return add(url.includes('locked') ? 'Locked delivery' : 'Pasted delivery', demoFiles());
    },
    set_download_limit: ({ id, bytesPerSec }) => {
      const d = state.downloads.find((x) => x.id === id);
      d.rate_limit = bytesPerSec;
      emit('engine', { type: 'added', download: { ...d } });
    },
    choose_files: ({ id, fileIds }) => {
      state.lastChoice = { id, fileIds };
      // As the engine does: files taken in are fetched, files left out lose their bytes,
      // complete ones stay.
      state.files[id] = state.files[id].map((f) => {
        const chosen = fileIds.includes(f.file_id);
        if (f.state === 'excluded' && chosen) return { ...f, state: 'pending', bytes_done: 0 };
        if (['pending', 'transferring', 'error'].includes(f.state) && !chosen) return { ...f, state: 'excluded', bytes_done: 0 };
        return f;
      });
      const d = state.downloads.find((x) => x.id === id);
      Object.assign(d, { total_bytes: state.files[id].reduce((s, f) => s + (f.virus_detected || f.state === 'excluded' ? 0 : f.size), 0),
        files_chosen: state.files[id].filter((f) => f.state !== 'excluded').length });
      emit('engine', { type: 'added', download: { ...d } });
      return { summary: { ...d }, files: state.files[id] };
    },
    reorder_downloads: ({ ids }) => {
      state.reorders = (state.reorders ?? 0) + 1;
      ids.forEach((id, i) => {
        const d = state.downloads.find((x) => x.id === id);
        d.priority = ids.length - i;
        emit('engine', { type: 'priority_changed', id, priority: d.priority });
      });
    },
    download_details: ({ id }) => ({ summary: state.downloads.find((d) => d.id === id), files: state.files[id] }),
    search_files: ({ query }) => {
      const q = query.trim().toLowerCase();
      return state.downloads.filter((d) => (state.files[d.id] ?? []).some((f) => f.package_path.toLowerCase().includes(q))).map((d) => d.id);
    },
    pause: ({ id }) => setState(id, 'paused'),
    resume: ({ id }) => setState(id, 'transferring'),
    retry: ({ id }) => setState(id, 'transferring'),
    delete_download: ({ id, removeFiles }) => {
      if (removeFiles) state.removedWithFiles = (state.removedWithFiles ?? 0) + 1;
      forget(id);
    },
    // No file manager on this desktop (a test says so): the opener fails.
    open_folder: () => {
      if (state.noFileManager) throw { code: 'open_failed', message: 'cannot open /home/user/Downloads/MASV: no program to open it' };
      return null;
    },
    open_file: ({ id, index }) => (state.opened = { id, index }) && null,
    show_file: ({ id, index }) => (state.shown = { id, index }) && null,
    verify_again: ({ id }) => {
      const n = state.downloads.find((d) => d.id === id).files_verified;
      // Someone edited a file after it arrived (a test says which).
      const changed = state.tampered ?? [];
      return { ok: n - changed.length, changed, missing: [], extra: [], algorithms: ['xxh128'], recorded: '/tmp/ascmhl/0002.mhl' };
    },
    keep_in_background: () => null,
    quit_app: () => null,
    // As the engine does: the package checked again in its folder, as a new download in
    // the earlier one's place.
    repair_download: ({ id }) => {
      const earlier = state.downloads.find((d) => d.id === id);
      state.repaired = id;
      forget(id);
      return add(earlier.name, state.files[id].map((f) => ({ ...f, state: 'pending', bytes_done: 0, verified: false, hash: null })),
        { dst_folder: earlier.dst_folder, link: earlier.link });
    },
    inbox_status: () => ({ team_id: state.inbox.teamId }),
    inbox_login: ({ teamId, apiKey }) => {
      if (apiKey !== 'good-key-1234') throw { code: 'api_key_rejected', message: 'MASV refused the API key: check it in MASV\'s web app (Settings, API keys) and log in again' };
      state.inbox.teamId = teamId;
      state.inbox.key = apiKey;
      return { team_id: teamId };
    },
    inbox_logout: () => { state.inbox.teamId = null; },
    inbox_packages: ({ states, teamspaces, tags, expiringWithinDays }) => {
      const t = Math.floor(Date.now() / 1000);
      return state.inbox.packages.filter((p) => (!states.length || states.includes(p.state))
        && (!teamspaces.length || teamspaces.includes(p.teamspace_id))
        && (!tags.length || (p.tag && tags.includes(p.tag.id)))
        && (expiringWithinDays === null || (p.expires_at > t && p.expires_at <= t + expiringWithinDays * 86400)));
    },
    inbox_extend: ({ packageId, days }) => {
      const p = state.inbox.packages.find((x) => x.id === packageId);
      p.expires_at = Math.max(p.expires_at, Math.floor(Date.now() / 1000)) + days * 86400;
      return p.expires_at;
    },
    inbox_portals: () => state.inbox.portals,
    inbox_download: ({ packageId }) => {
      const p = state.inbox.packages.find((x) => x.id === packageId);
      return add(p.name, [file(0, 'clip_00.mov', p.size)], { origin: { kind: 'team', team_id: state.inbox.teamId } });
    },
    inbox_watch: ({ portalId, enabled, folder, since }) => {
      const p = state.inbox.portals.find((x) => x.id === portalId);
      p.since = since ?? (p.watched ? p.since : Math.floor(Date.now() / 1000));
      p.watched = enabled;
      p.folder = folder ?? `${state.settings.destination}/${p.name}`;
    },
    inbox_failures: () => state.inbox.failures,
    drop_parked_link: ({ token }) => { state.dropped.push(token); },
    clipboard_capture_status: () => state.clipboardProblem,
    waiting_links: () => state.waiting,
    drop_waiting_link: ({ token }) => {
      state.waiting = state.waiting.filter((w) => w.token !== token);
      emit('waiting-links', state.waiting);
    },
    // MASV answers again: every waiting link is shown for the person to confirm.
    retry_waiting_links: () => {
      const back = state.waiting;
      state.waiting = [];
      emit('waiting-links', state.waiting);
      for (const w of back) {
        const preview = { name: 'Offline delivery', package_id: 'pkg-offline', sender_email: 'dit@set.example',
          file_count: 3, total_bytes: 80 << 20, sizes_complete: true, withheld: 0 };
        window.__fake.incoming(w.token, preview);
      }
    },
    agent_token: ({ require }) => {
      state.settings = { ...state.settings, agent_api_token: require };
      return require ? 'f'.repeat(64) : null;
    },
    confirm_parked_link: ({ token, trustSender }) => {
      const parked = state.parked[token];
      if (!parked) throw { code: 'unknown_link', message: 'that link is no longer waiting; open it again' };
      delete state.parked[token];
      if (trustSender) state.settings.trusted_senders = [...state.settings.trusted_senders, parked.sender_email];
      return add(parked.name, demoFiles(), { sender_email: parked.sender_email });
    },
  };
  // As if it were 10:00 on a weekday: the first limit rule is in force for an hour.
  function scheduleStatus() {
    const rule = state.schedule.limits[0];
    const inHour = Math.floor(Date.now() / 1000) + 3600;
    return rule
      ? { open: true, limit: rule.bytes_per_sec, scheduled_limit: true, changes_at: inHour, next_open: true, next_limit: null }
      : { open: true, limit: null, scheduled_limit: false, changes_at: null, next_open: true, next_limit: null };
  }
  function setState(id, s) {
    const d = state.downloads.find((x) => x.id === id);
    d.state = s;
    emit('engine', { type: 'state_changed', id, state: s, error: null });
  }
  // The system clipboard, as far as the page can write it.
  Object.defineProperty(navigator, 'clipboard', { value: { writeText: async (text) => { state.clipboard = text; } } });
  window.__fake = {
    state,
    emit,
    /** A long history: `n` completed packages, each with two files. */
    history(n) {
      for (let i = 0; i < n; i++) {
        const tag = String(i).padStart(4, '0');
        const id = add(`Archive ${tag}`, [file(0, `reel-${tag}/take.mov`, 1 << 20), file(1, `reel-${tag}/notes-${tag}.txt`, 100)],
          { state: 'complete', completed_at: 1_700_000_000 + i, sender_email: `vendor${i % 7}@post.example`,
            files_complete: 2, files_verified: 2, hash_algorithm: 'xxh128', manifest: `/home/user/Downloads/MASV/Archive ${tag}/ascmhl/0001.mhl` });
        state.downloads.find((d) => d.id === id).bytes_done = (1 << 20) + 100;
      }
    },
    /** A link from a web page while MASV cannot be reached: the shell keeps it. */
    incomingOffline(url) {
      const token = 100 + state.waiting.length;
      const at = Math.floor(Date.now() / 1000);
      state.waiting.push({ token, link: url.replace(/secret=[^&]*/, 'secret=***'), since: at, next_try: at + 15,
        message: 'MASV cannot be reached (could not connect to the server)' });
      emit('waiting-links', state.waiting);
    },
    /** MASV answers for a download added while it could not: listed under the same id. */
    listed(id) {
      const i = state.downloads.findIndex((x) => x.id === id);
      state.files[id] = demoFiles();
      state.downloads[i] = summary(id, 'Offline delivery', state.files[id], { created_at: state.downloads[i].created_at });
      emit('engine', { type: 'added', download: state.downloads[i] });
    },
    /** A link from a web page: the shell parks it and asks the window. */
    incoming(token, preview, origin = 'outside') {
      state.parked[token] = preview;
      emit('incoming-link', { type: 'confirm', token, preview, origin });
    },
    /** Something copied anywhere on the desktop: with clipboard capture on, the shell
     * takes the MASV link out of it (nothing else) and the window asks. */
    copy(text) {
      const link = /https:\/\/get\.massive\.app\/(\w+)\?secret=\w+/.exec(text);
      if (!state.settings.clipboard_capture || !link) return;
      const token = 500 + Object.keys(state.parked).length + state.dropped.length;
      window.__fake.incoming(token, { name: `Copied ${link[1]}`, package_id: `pkg-${link[1]}`, sender_email: 'dit@set.example',
        file_count: 2, total_bytes: 3 * 2 ** 30, sizes_complete: true, withheld: 0 }, 'clipboard');
    },
    progress(id, fraction, rate, heldBack = null, checking = null) {
      const d = state.downloads.find((x) => x.id === id);
      d.bytes_done = Math.round(d.total_bytes * fraction);
      emit('engine', { type: 'progress', downloads: [{ id, bytes_done: d.bytes_done, total_bytes: d.total_bytes, rate,
        eta_secs: rate > 0 ? Math.round((d.total_bytes - d.bytes_done) / rate) : null, connections: rate > 0 ? 8 : 0, held_back: heldBack, checking,
        files: [{ index: 0, bytes_done: Math.round(state.files[id][0].size * fraction), rate }] }] });
    },
    /** Outside the schedule's download hours: queued, waiting until they begin. */
    scheduleWait(id, secs) {
      const d = state.downloads.find((x) => x.id === id);
      d.waiting = { reason: 'schedule', message: 'outside the download hours (daily 22:00-06:00); it goes on by itself when they begin',
        retry_at: Math.floor(Date.now() / 1000) + secs };
      setState(id, 'queued');
      emit('engine', { type: 'waiting', id, waiting: d.waiting });
    },
    /** Forgotten, as a deletion does. */
    remove: forget,
    /** MASV says the package expires in `secs` seconds (the engine's expiry_changed). */
    expiresIn(id, secs) {
      const d = state.downloads.find((x) => x.id === id);
      d.expires_at = Math.floor(Date.now() / 1000) + secs;
      emit('engine', { type: 'expiry_changed', id, expires_at: d.expires_at });
    },
    waiting(id, secs, reason = 'network') {
      const d = state.downloads.find((x) => x.id === id);
      const message = reason === 'masv' ? 'MASV cannot be reached (server answered 503 Service Unavailable)' : 'could not connect to the server';
      d.waiting = secs === null ? null : { reason, message, retry_at: Math.floor(Date.now() / 1000) + secs };
      emit('engine', { type: 'waiting', id, waiting: d.waiting });
    },
    complete(id) {
      // As the engine does: the proof is recorded before the state changes.
      const d = state.downloads.find((x) => x.id === id);
      d.files_complete = d.files_verified = state.files[id].filter((f) => !f.virus_detected).length;
      d.hash_algorithm = 'xxh128';
      d.bytes_done = d.total_bytes;
      for (const f of state.files[id].filter((f) => !f.virus_detected)) {
        Object.assign(f, { state: 'complete', bytes_done: f.size, verified: true, hash: { algorithm: 'xxh128', value: '0123456789abcdef0123456789abcdef' } });
      }
      d.manifest = `${d.dst_folder}/ascmhl/0001_${d.name}.mhl`;
      setState(id, 'complete');
    },
  };
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener: () => {} };
  window.__TAURI_INTERNALS__ = {
    transformCallback(cb, once) {
      const id = nextId++;
      callbacks.set(id, (data) => { if (once) callbacks.delete(id); cb?.(data); });
      return id;
    },
    unregisterCallback: (id) => callbacks.delete(id),
    async invoke(cmd, args) {
      state.calls.push(cmd);
      if (cmd === 'plugin:event|listen') {
        if (!listeners.has(args.event)) listeners.set(args.event, []);
        listeners.get(args.event).push(args.handler);
        return args.handler;
      }
      if (cmd.startsWith('plugin:event|')) return null;
      const f = commands[cmd];
      if (!f) throw { code: 'internal', message: `unknown command ${cmd}` };
      return structuredClone(f(args ?? {}));
    },
  };
})();
