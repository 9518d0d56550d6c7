// Browser demo of the SDK: creates jobs on the mock server, shows each job's progress and the active
// transport, and cuts the event stream through the mock server's fault routes.
//
// Query parameters shorten the SDK's timings, for the browser tests and for impatient people:
// `pollInterval` (ms between two status requests while polling) and `sseMaxDelay` (maximum delay
// between two SSE reconnection attempts, in ms). Without them the SDK defaults apply.
import { HeyGenAPI, HeyGenStatusListenerMode, InvalidArgumentError } from 'heygen-status';

const CLIENT_ID_KEY = 'heygen-status-demo.clientId';
const JOB_IDS_KEY = 'heygen-status-demo.jobIds';
/** Maximum number of job ids kept for the next visit. The mock server evicts finished jobs after a minute. */
const MAX_STORED_JOBS = 200;

const elements = {
  mode: document.getElementById('mode'),
  clientId: document.getElementById('client-id'),
  jobCount: document.getElementById('job-count'),
  jobDuration: document.getElementById('job-duration'),
  create: document.getElementById('create'),
  outage: document.getElementById('outage'),
  cutSse: document.getElementById('cut-sse'),
  clear: document.getElementById('clear'),
  error: document.getElementById('error'),
  faultStatus: document.getElementById('fault-status'),
  modeLog: document.getElementById('mode-log'),
  summary: document.getElementById('summary'),
  jobs: document.getElementById('jobs'),
};

/** Subscriptions of the listed jobs, by job id. */
const subscriptions = new Map();

function numberParameter(name) {
  const raw = new URLSearchParams(location.search).get(name);
  const value = raw === null ? Number.NaN : Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Creates the client with the client id stored by an earlier visit, so that a reload finds the same
 * jobs. A stored id that the SDK rejects is replaced by a new one.
 */
function createClient() {
  const options = {
    url: location.origin,
    mode: HeyGenStatusListenerMode.AUTO,
    fallback: true,
    pollInterval: numberParameter('pollInterval'),
    sseRetry: { maxDelayMs: numberParameter('sseMaxDelay') },
  };
  const storedId = localStorage.getItem(CLIENT_ID_KEY) ?? undefined;
  let client;
  try {
    client = new HeyGenAPI({ ...options, clientId: storedId });
  } catch (error) {
    if (!(error instanceof InvalidArgumentError) || error.argument !== 'options.clientId') {
      throw error;
    }
    client = new HeyGenAPI(options);
  }
  localStorage.setItem(CLIENT_ID_KEY, client.clientId);
  return client;
}

function showError(message) {
  elements.error.textContent = message;
  elements.error.hidden = false;
}

function time() {
  return new Date().toLocaleTimeString();
}

function storedJobIds() {
  try {
    const ids = JSON.parse(localStorage.getItem(JOB_IDS_KEY) ?? '[]');
    return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

function storeJobIds() {
  const ids = [...subscriptions.keys()].slice(-MAX_STORED_JOBS);
  localStorage.setItem(JOB_IDS_KEY, JSON.stringify(ids));
}

function showMode(mode) {
  elements.mode.textContent = mode;
  elements.mode.dataset.mode = mode;
  const entry = document.createElement('li');
  entry.dataset.mode = mode;
  entry.textContent = `${time()}: ${mode}`;
  elements.modeLog.append(entry);
}

function updateSummary() {
  const rows = [...elements.jobs.children];
  const count = (status) => rows.filter((row) => row.dataset.status === status).length;
  const completed = count('completed');
  const failed = count('failed') + count('error');
  const running = rows.length - completed - failed;
  elements.summary.dataset.total = String(rows.length);
  elements.summary.dataset.completed = String(completed);
  elements.summary.dataset.failed = String(failed);
  elements.summary.textContent =
    rows.length === 0
      ? 'No jobs yet.'
      : `${rows.length} jobs: ${completed} completed, ${failed} failed or lost, ${running} running.`;
}

function addRow(jobId) {
  const row = document.createElement('li');
  row.dataset.jobId = jobId;
  row.dataset.status = 'pending';

  const id = document.createElement('code');
  id.textContent = jobId.slice(0, 8);
  id.title = jobId;
  const bar = document.createElement('progress');
  bar.max = 100;
  bar.value = 0;
  const status = document.createElement('span');
  status.className = 'status';
  status.textContent = 'pending';

  row.append(id, bar, status);
  elements.jobs.append(row);
  return row;
}

function renderJob(row, job) {
  row.dataset.status = job.status;
  row.querySelector('progress').value = job.progress;
  row.querySelector('.status').textContent =
    job.status === 'processing' ? `${job.progress}%` : job.status;
  updateSummary();
}

function renderError(row, error) {
  // JobFailedError arrives right after the `failed` state, which the row already shows.
  if (error.name === 'JobFailedError') return;
  row.dataset.status = 'error';
  row.querySelector('.status').textContent =
    error.name === 'JobNotFoundError' ? 'expired' : 'error';
  row.title = error.message;
  updateSummary();
}

function watchJob(heygen, jobId) {
  if (subscriptions.has(jobId)) return;
  const row = addRow(jobId);
  const subscription = heygen.jobStatus$(jobId).subscribe({
    next: (job) => renderJob(row, job),
    error: (error) => renderError(row, error),
  });
  subscriptions.set(jobId, subscription);
  updateSummary();
}

async function createJobs(heygen) {
  const count = Math.max(1, Math.min(100, Math.trunc(Number(elements.jobCount.value)) || 1));
  const durationMs = Math.trunc(Number(elements.jobDuration.value)) || undefined;
  elements.create.disabled = true;
  try {
    // Every request runs at once: the open event stream occupies one of the browser's six connections
    // per origin, and the other five must be enough for the requests.
    const results = await Promise.allSettled(
      Array.from({ length: count }, () => heygen.createJob({ durationMs })),
    );
    for (const result of results) {
      if (result.status === 'fulfilled') watchJob(heygen, result.value);
    }
    storeJobIds();
    const failures = results.filter((result) => result.status === 'rejected');
    if (failures.length > 0) {
      showError(`${failures.length} of ${count} jobs were not created: ${failures[0].reason}`);
    }
  } finally {
    elements.create.disabled = false;
  }
}

/** Rejects new event streams for the outage and ends the open ones, so that the SDK falls back. */
async function cutSse() {
  const durationMs = Math.max(0, Math.trunc(Number(elements.outage.value)) || 0);
  const post = async (path, body) => {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`POST ${path} failed with HTTP ${response.status}`);
  };
  elements.cutSse.disabled = true;
  try {
    await post('/__mock/faults/refuse-streams', { durationMs });
    await post('/__mock/faults/drop-streams', {});
    elements.faultStatus.textContent = `${time()}: event streams cut, and refused for ${durationMs} ms.`;
  } catch (error) {
    showError(`Cutting SSE failed: ${error.message}`);
  } finally {
    elements.cutSse.disabled = false;
  }
}

function clearJobs() {
  for (const subscription of subscriptions.values()) subscription.unsubscribe();
  subscriptions.clear();
  elements.jobs.replaceChildren();
  storeJobIds();
  updateSummary();
}

function main() {
  const heygen = createClient();
  elements.clientId.textContent = heygen.clientId;
  heygen.mode$.subscribe(showMode);
  heygen.errors$.subscribe((error) => showError(`${error.name}: ${error.message}`));

  elements.create.addEventListener('click', () => {
    createJobs(heygen).catch((error) => showError(`Creating jobs failed: ${error.message}`));
  });
  elements.cutSse.addEventListener('click', () => void cutSse());
  elements.clear.addEventListener('click', clearJobs);

  for (const jobId of storedJobIds()) watchJob(heygen, jobId);
  document.body.dataset.ready = 'true';
}

try {
  main();
} catch (error) {
  showError(`The demo could not start: ${error}`);
}
