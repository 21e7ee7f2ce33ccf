import { IncomingMessage, ServerResponse } from 'node:http';
import { TokenSet } from '../../shared/rpc/security';
import { JobRecord } from '../jobs/job-record';
import { StepTimes } from '../membership/step-times';
import { DASHBOARD_HTML } from './page';

/** What the dashboard shows of a worker (never its id: ids are credentials of a sort). */
export interface WorkerView {
  name: string;
  backend: string;
  /** The job it trains or is held for, and its rank there (null while held or idle). */
  job: string | null;
  rank: number | null;
  lastSeenMs: number;
  /** Per-step compute and wait seconds over its last reported round, with that round's job and rank; null before any. */
  step: StepTimes | null;
}

export interface DashboardSource {
  jobs(): JobRecord[];
  job(id: string): JobRecord | undefined;
  workers(): WorkerView[];
}

/**
 * A job as the API gives it: its record without the spec (its paths stay
 * on the server); the list leaves out the history too (up to 1000 rounds a
 * job, polled every second), which a job's own view has.
 */
function view(r: JobRecord, withHistory: boolean): Record<string, unknown> {
  return {
    id: r.id, name: r.name, state: r.state, family: r.spec.model.family, epoch: r.epoch, epochs: r.epochs, workers: r.workers,
    metrics: r.metrics, attempt: r.attempt, waiting: r.waiting, error: r.error, ...(withHistory ? { history: r.history } : {}), membership: r.membership,
    createdAtMs: r.createdAtMs, startedAtMs: r.startedAtMs, finishedAtMs: r.finishedAtMs,
  };
}

/**
 * The dashboard on the coordinator's HTTP port: `/` (one page, no outside
 * assets), `/api/jobs`, `/api/jobs/ID`, `/api/workers`. With client
 * tokens, the API wants `Authorization: Bearer TOKEN` (the page takes it
 * from its address's `#token=`), checked as the gRPC services check it.
 */
export function dashboardRoutes(source: DashboardSource, clientTokens: readonly string[]) {
  const tokens = new TokenSet(clientTokens.map((token) => ({ token, roles: ['client'] })));
  const allowed = (req: IncomingMessage): boolean => {
    if (tokens.size === 0) return true;
    const roles = tokens.rolesOf(req.headers.authorization);
    return roles !== null && roles !== 'missing';
  };
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  };
  return (path: string, req: IncomingMessage, res: ServerResponse): boolean => {
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" }).end(DASHBOARD_HTML);
      return true;
    }
    if (!path.startsWith('/api/')) return false;
    if (!allowed(req)) {
      json(res, 401, { error: 'this coordinator takes a bearer token: open the dashboard as /#token=TOKEN' });
      return true;
    }
    if (path === '/api/jobs') json(res, 200, source.jobs().map((r) => view(r, false)));
    else if (path === '/api/workers') json(res, 200, source.workers());
    else if (path.startsWith('/api/jobs/')) {
      const job = source.job(decodeURIComponent(path.slice('/api/jobs/'.length)));
      if (job) json(res, 200, view(job, true));
      else json(res, 404, { error: 'no such job' });
    } else json(res, 404, { error: 'no such endpoint' });
    return true;
  };
}
