import type { ComponentChildren } from "preact";
import { followLink, href } from "../router.js";

/** A link to a page of the app: a real href (new tabs, keyboard), followed without a reload. */
export function Link(props: { to: string; children: ComponentChildren; class?: string; title?: string }) {
  return (
    <a href={href(props.to)} class={props.class} title={props.title} onClick={(e) => followLink(e, props.to)}>
      {props.children}
    </a>
  );
}
