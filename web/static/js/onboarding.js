// The onboarding panel of an empty store: the exact commands that attach a
// pipeline to this server, in process from Go or over OTLP/HTTP from any
// OpenTelemetry SDK.

import { el } from './dom.js';

// onboarding returns the panel; origin is this server's (location.origin).
export function onboarding(origin) {
  const endpoint = origin + '/v1/traces';
  const block = (title, text, lang) => {
    const pre = el('pre', { class: 'code', dataset: { lang }, text });
    const copy = el('button', { type: 'button', class: 'secondary copy', text: 'Copy' });
    copy.addEventListener('click', async () => {
      try { await navigator.clipboard.writeText(text); copy.textContent = 'Copied'; } catch (_) { copy.textContent = 'Select and copy'; }
    });
    return el('div', { class: 'code-block' }, el('div', { class: 'code-head' }, el('span', { text: title }), copy), pre);
  };
  return el('section', { class: 'card onboarding', id: 'onboarding' },
    el('h2', { text: 'No traces yet: attach a pipeline' }),
    el('p', null, 'This server collects spans at ', el('code', { id: 'otlp-endpoint', text: endpoint }),
      ' (OTLP/HTTP, protobuf or JSON). The dashboard fills in as soon as the first trace arrives.'),
    el('h3', { text: 'Python or Node, any OpenTelemetry SDK' }),
    block('environment', `export OTEL_EXPORTER_OTLP_ENDPOINT=${origin}\nexport OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`, 'sh'),
    block('Python', 'pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http\n\n' +
      'from opentelemetry import trace\n' +
      'from opentelemetry.sdk.trace import TracerProvider\n' +
      'from opentelemetry.sdk.trace.export import BatchSpanProcessor\n' +
      'from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n\n' +
      'provider = TracerProvider()\n' +
      `provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint="${endpoint}")))\n` +
      'trace.set_tracer_provider(provider)\n' +
      '# LlamaIndex: LlamaIndexInstrumentor().instrument(tracer_provider=provider)', 'python'),
    block('Node.js', 'npm install @opentelemetry/sdk-node @opentelemetry/exporter-trace-otlp-http\n\n' +
      "const { NodeSDK } = require('@opentelemetry/sdk-node');\n" +
      "const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');\n" +
      `new NodeSDK({ traceExporter: new OTLPTraceExporter({ url: '${endpoint}' }) }).start();`, 'js'),
    el('p', { class: 'muted', text: 'Started with a token? Add OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>. A span names its stage with the attribute stagescope.stage (retrieve, rerank, llm, …); OpenInference and GenAI attributes are mapped too.' }),
    el('h3', { text: 'Go, in the pipeline\'s own process' }),
    block('Go', 'store, err := collector.OpenSQLite("stagescope-data/stagescope.db")\n' +
      'if err != nil { log.Fatal(err) }\n' +
      'c := collector.New(store)\n' +
      'defer c.Shutdown(context.Background())\n' +
      'dispatcher.Root().AddSpanHandler(c.Handler())\n' +
      'dispatcher.Root().AddEventHandler(c.Handler())\n' +
      `go http.ListenAndServe("127.0.0.1:7318", handlers.New(store, c).Handler())`, 'go'),
    el('p', { class: 'muted', text: 'To send from Go to this server instead, use otelbridge.New(tracerProvider) as a dispatcher handler with an OTLP/HTTP exporter to the endpoint above. To see the dashboard with data first: stagescope demo.' }),
  );
}
