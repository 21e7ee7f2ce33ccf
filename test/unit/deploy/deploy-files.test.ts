import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEPLOY, yamlFiles } from '../../harness/deploy-files';
import { ROOT } from '../../harness/paths';
import { PROMTOOL_MISSING, PROMTOOL_PRESENT, promtool } from '../../harness/promtool';

/**
 * The deploy files, checked offline (CI runs no container engine or
 * cluster): every YAML parses, and the Kubernetes objects and the Compose
 * file have what a fleet that survives restarts needs.
 */
function docs(path: string): any[] {
  const parsed = parseAllDocuments(readFileSync(path, 'utf8'));
  for (const d of parsed) expect(d.errors, path).toEqual([]);
  return parsed.map((d) => d.toJS());
}

describe('deploy files', () => {
  it('parse, every YAML file', () => {
    const files = yamlFiles(DEPLOY);
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(docs(f).length, f).toBeGreaterThan(0);
  });

  it('Kubernetes: named objects, matching selectors, probes, resources, a non-root security context, one coordinator at a time, defined claims', () => {
    const objects = docs(join(DEPLOY, 'k8s', 'tfleet.yaml'));
    for (const o of objects) {
      expect(o.apiVersion, JSON.stringify(o).slice(0, 80)).toBeTruthy();
      expect(o.kind).toBeTruthy();
      expect(o.metadata?.name).toMatch(/^[a-z0-9-]+$/);
    }
    const claims = new Set(objects.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name));
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['tfleet-coordinator', 'tfleet-worker']);
    for (const d of deployments) {
      const pod = d.spec.template;
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) expect(pod.metadata.labels[k]).toBe(v);
      expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: 1000 });
      for (const c of pod.spec.containers) {
        expect(c.readinessProbe?.httpGet?.path, c.name).toBe('/healthz');
        expect(c.livenessProbe?.httpGet?.path, c.name).toBe('/healthz');
        expect(c.resources?.requests, c.name).toBeTruthy();
        expect(c.resources?.limits?.memory, c.name).toBeTruthy();
        expect(c.imagePullPolicy).toBe('IfNotPresent');
        expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
        // The token comes from a Secret, and the coordinator listens beyond loopback only with it and data roots.
        expect(c.args).toContain('--auth-token-file');
        const mounts = new Set(c.volumeMounts.map((m: { name: string }) => m.name));
        for (const m of mounts) expect(pod.spec.volumes.some((v: { name: string }) => v.name === m), `${c.name} mounts ${String(m)}`).toBe(true);
      }
      for (const v of pod.spec.volumes) if (v.persistentVolumeClaim) expect(claims.has(v.persistentVolumeClaim.claimName)).toBe(true);
    }
    const coordinator = deployments.find((d) => d.metadata.name === 'tfleet-coordinator');
    expect(coordinator.spec.strategy).toEqual({ type: 'Recreate' });
    expect(coordinator.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['--data-root', '/data']));
    // Workers dial the gRPC port and the tensor port beside it (--tensor-port's default) through the Service.
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'tfleet-coordinator');
    expect(service.spec.ports.map((p: { port: number }) => p.port)).toEqual(expect.arrayContaining([7070, 7071]));
    expect(coordinator.spec.template.spec.containers[0].ports.map((p: { containerPort: number }) => p.containerPort)).toEqual(expect.arrayContaining([7070, 7071]));
  });

  it('Compose: one image built once, health checks, restarts, start order by health, the token as a secret, loopback ports', () => {
    const [compose] = docs(join(DEPLOY, 'compose', 'compose.yaml'));
    const services = compose.services as Record<string, any>;
    expect(Object.values(services).filter((s) => s.build)).toHaveLength(1);
    expect(services.worker.image).toBe(services.coordinator.image);
    for (const s of Object.values(services)) expect(s.restart).toBe('unless-stopped');
    expect(services.nats.healthcheck).toBeTruthy();
    expect(services.worker.depends_on.coordinator.condition).toBe('service_healthy');
    for (const name of ['coordinator', 'worker']) expect(services[name].secrets).toEqual(['tfleet_token']);
    expect(compose.secrets.tfleet_token.file).toBe('./tfleet.token');
    for (const s of Object.values(services)) for (const p of s.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
  });

  it('Dockerfile: a non-root user owning its data folders, and a health check', () => {
    const text = readFileSync(join(DEPLOY, 'docker', 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/chown -R node:node \/data/);
    expect(text).toMatch(/^HEALTHCHECK /m);
  });

  it('Dockerfile: builds the native addon and ships it where the workers look for it, with its library', () => {
    const text = readFileSync(join(DEPLOY, 'docker', 'Dockerfile'), 'utf8');
    expect(text).toMatch(/apt-get install[^\n]* g\+\+ [^\n]*libdnnl-dev/);
    expect(text).toMatch(/apt-get install[^\n]* libdnnl2/);
    // addon.ts looks beside the compiled tree's root, in worker/backends/native/build/Release/.
    expect(text).toContain('COPY --from=build /app/worker/backends/native/build/Release/tfleet_dnnl.node ./worker/backends/native/build/Release/');
  });
});

describe('the Grafana dashboard and the alert rules', () => {
  /** Metric names an expression reads (histogram series map to their family). */
  const metricsOf = (expr: string): string[] => [...new Set([...expr.matchAll(/\btfleet_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')))];
  /** Every tfleet metric family a coordinator and a worker register, from their sources. */
  const known = (): Set<string> => {
    const files = ['coordinator/metrics.ts', 'coordinator/ps/ps-service.ts', 'worker/metrics.ts', 'shared/metrics.ts'];
    const names = files.flatMap((f) => [...readFileSync(join(ROOT, f), 'utf8').matchAll(/'(tfleet_[a-z_]+)'/g)].map((m) => m[1]));
    return new Set(names);
  };

  it('read only metrics tfleet exports, with the job_id label', () => {
    const names = known();
    expect(names.size).toBeGreaterThan(15);
    const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'tfleet-dashboard.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    const [rules] = docs(join(DEPLOY, 'prometheus', 'alerts.yml'));
    const alerts = rules.groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules);
    expect(alerts.map((a: { alert: string }) => a.alert)).toEqual(expect.arrayContaining(['TfleetJobStalled', 'TfleetWorkerLost', 'TfleetJobFailed']));
    for (const expr of [...exprs, ...alerts.map((a: { expr: string }) => a.expr)]) {
      for (const m of metricsOf(expr)) expect(names.has(m), `${m} in ${expr}`).toBe(true);
      expect(expr, expr).not.toMatch(/\bjob=/);
    }
    const [prometheus] = docs(join(DEPLOY, 'prometheus', 'prometheus.yml'));
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
  });
});

describe('the Prometheus files under promtool', () => {
  const dir = join(DEPLOY, 'prometheus');

  it('promtool check config accepts prometheus.yml and finds its rule file', (ctx) => {
    ctx.skip(!PROMTOOL_PRESENT, PROMTOOL_MISSING);
    const r = promtool(['check', 'config', join(dir, 'prometheus.yml')]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('1 rule files found');
  });

  it('promtool check rules accepts alerts.yml, and its alerts fire as alerts.test.yml says (promtool test rules)', (ctx) => {
    ctx.skip(!PROMTOOL_PRESENT, PROMTOOL_MISSING);
    const check = promtool(['check', 'rules', join(dir, 'alerts.yml')]);
    expect(check.status, check.output).toBe(0);
    expect(check.output).toContain('4 rules found');
    const test = promtool(['test', 'rules', join(dir, 'alerts.test.yml')]);
    expect(test.status, test.output).toBe(0);
    expect(test.output).toContain('SUCCESS');
  });
});
