// The whole entry as formatted JSON. Request and response bodies fold away (they can be large);
// values kubetrail masked at ingest are marked as such, so nobody mistakes a tag for the secret.
import type { ComponentChildren } from "preact";
import { KUBETRAIL_ANNOTATIONS, REDACTION_TAG_PREFIX } from "../../../src/audit/types.js";

export const REDACTED_ANNOTATION = KUBETRAIL_ANNOTATIONS.redacted;
const FOLDED = new Set(["requestObject", "responseObject"]);

function Scalar({ value }: { value: unknown }) {
  if (typeof value === "string") {
    if (value.startsWith(REDACTION_TAG_PREFIX))
      return (
        <span class="json-string">
          <mark
            class="redacted"
            title="This value was masked by kubetrail at ingest (a keyed HMAC tag, not the secret)"
          >
            redacted
          </mark>{" "}
          {JSON.stringify(value)}
        </span>
      );
    return <span class="json-string">{JSON.stringify(value)}</span>;
  }
  if (value === null) return <span class="json-null">null</span>;
  return <span class={`json-${typeof value}`}>{String(value)}</span>;
}

function Node(props: { name?: string; value: unknown; depth: number; last: boolean; path: string }) {
  const { name, value, depth, last } = props;
  const key = name === undefined ? null : <span class="json-key">{JSON.stringify(name)}: </span>;
  const comma = last ? "" : ",";
  if (typeof value !== "object" || value === null) {
    return (
      <div class="json-line">
        {key}
        <Scalar value={value} />
        {comma}
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const entries: [string | undefined, unknown][] = isArray
    ? (value as unknown[]).map((v) => [undefined, v])
    : Object.entries(value as Record<string, unknown>);
  const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0)
    return (
      <div class="json-line">
        {key}
        {open}
        {close}
        {comma}
      </div>
    );
  const children: ComponentChildren = entries.map(([k, v], i) => (
    <Node
      key={i}
      name={k}
      value={v}
      depth={depth + 1}
      last={i === entries.length - 1}
      path={`${props.path}.${k ?? i}`}
    />
  ));
  const fold = name !== undefined && depth === 1 && FOLDED.has(name);
  if (fold) {
    return (
      <details class="json-fold" data-testid={`fold-${name}`}>
        <summary>
          {key}
          {open} … {close}{" "}
          <span class="muted">
            ({entries.length} {isArray ? "items" : "fields"})
          </span>
          {comma}
        </summary>
        <div class="json-children">{children}</div>
        <div class="json-line">
          {close}
          {comma}
        </div>
      </details>
    );
  }
  return (
    <div>
      <div class="json-line">
        {key}
        {open}
      </div>
      <div class="json-children">{children}</div>
      <div class="json-line">
        {close}
        {comma}
      </div>
    </div>
  );
}

export function JsonView({ value }: { value: unknown }) {
  return (
    <div class="json" data-testid="json">
      <Node value={value} depth={0} last={true} path="" />
    </div>
  );
}
