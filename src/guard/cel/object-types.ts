// The opaque types the Kubernetes CEL libraries add (Quantity, URL, IP and CIDR). The CEL library
// represents non-primitive values as protobuf messages, so each is a one-field message built
// at start-up; equality of two values is then CEL's own message equality on that field,
// which is why the field holds a canonical spelling.
import { objectType, type CelObjectType } from "@bufbuild/cel";
import {
  create,
  createFileRegistry,
  createRegistry,
  type DescMessage,
  type Registry,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";

const STRING_FIELD = 9; // FieldDescriptorProto.Type.TYPE_STRING
const OPTIONAL_LABEL = 1;

const file = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "kubetrail/guard/kubernetes_cel.proto",
    package: "kubernetes",
    syntax: "proto3",
    messageType: [
      {
        name: "Quantity",
        field: [
          { name: "canonical", number: 1, type: STRING_FIELD, label: OPTIONAL_LABEL, jsonName: "canonical" },
        ],
      },
      {
        name: "URL",
        field: [{ name: "href", number: 1, type: STRING_FIELD, label: OPTIONAL_LABEL, jsonName: "href" }],
      },
      ...["IP", "CIDR"].map((name) => ({
        name,
        field: [
          { name: "canonical", number: 1, type: STRING_FIELD, label: OPTIONAL_LABEL, jsonName: "canonical" },
        ],
      })),
    ],
  }),
  () => undefined,
);

function message(name: string): DescMessage {
  const desc = file.getMessage(name);
  if (desc === undefined) throw new Error(`internal: message ${name} missing from the CEL type registry`);
  return desc;
}

const QUANTITY_DESC = message("kubernetes.Quantity");
const URL_DESC = message("kubernetes.URL");
const IP_DESC = message("kubernetes.IP");
const CIDR_DESC = message("kubernetes.CIDR");

export const QUANTITY_TYPE: CelObjectType = objectType(QUANTITY_DESC);
export const URL_TYPE: CelObjectType = objectType(URL_DESC);
export const IP_TYPE: CelObjectType = objectType(IP_DESC);
export const CIDR_TYPE: CelObjectType = objectType(CIDR_DESC);

/** The registry the CEL environment needs to know these messages. */
export const KUBERNETES_TYPES: Registry = createRegistry(file);

function make(desc: DescMessage, field: string, value: string): ReflectMessage {
  return reflect(desc, create(desc, { [field]: value }));
}

function read(value: ReflectMessage, field: string): string {
  const f = value.desc.field[field];
  if (f === undefined) throw new Error(`internal: ${value.desc.typeName} has no field ${field}`);
  return value.get(f) as string;
}

export const quantityValue = (canonical: string): ReflectMessage =>
  make(QUANTITY_DESC, "canonical", canonical);
export const quantityText = (v: ReflectMessage): string => read(v, "canonical");
export const urlValue = (href: string): ReflectMessage => make(URL_DESC, "href", href);
export const urlText = (v: ReflectMessage): string => read(v, "href");
export const ipValue = (canonical: string): ReflectMessage => make(IP_DESC, "canonical", canonical);
export const cidrValue = (canonical: string): ReflectMessage => make(CIDR_DESC, "canonical", canonical);
/** The canonical spelling an IP or CIDR value holds. */
export const canonicalText = (v: ReflectMessage): string => read(v, "canonical");
