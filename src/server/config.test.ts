import { writeFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";
import { applyConfigFile, parseDuration, parseListen, parseSize } from "./config.js";

describe("config values", () => {
  it("parses sizes, durations and listen addresses", () => {
    expect(parseSize("32Mi", "--max-body")).toBe(33554432);
    expect(parseSize("1k", "x")).toBe(1000);
    expect(parseSize("4096", "x")).toBe(4096);
    expect(() => parseSize("lots", "--max-body")).toThrow('--max-body: "lots" is not a size');
    expect(parseDuration("60s", "x")).toBe(60000);
    expect(parseDuration("250ms", "x")).toBe(250);
    expect(parseDuration("2m", "x")).toBe(120000);
    expect(parseDuration("7d", "x")).toBe(7 * 86_400_000);
    expect(parseListen(":8443", "x")).toEqual({ host: "0.0.0.0", port: 8443 });
    expect(parseListen("127.0.0.1:0", "x")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseListen("[::1]:9", "x")).toEqual({ host: "::1", port: 9 });
    expect(() => parseListen("8443", "--listen")).toThrow('--listen: "8443" is not host:port');
  });
});

describe("precedence flag > env > file > default", () => {
  function command(): Command {
    return new Command("serve")
      .exitOverride()
      .addOption(new Option("--listen <addr>").default(":8443").env("KT_TEST_LISTEN"))
      .addOption(new Option("--max-body <size>").default("32Mi").env("KT_TEST_MAX_BODY"))
      .addOption(new Option("--log-level <level>").default("info").env("KT_TEST_LOG_LEVEL"))
      .addOption(new Option("--insecure-http").env("KT_TEST_INSECURE"))
      .addOption(new Option("--config <file>"))
      .action(() => undefined);
  }

  it("lets the file fill only what flags and env left at default", () => {
    const dir = tempDir("kt-config-");
    const file = path.join(dir, "serve.yaml");
    writeFileSync(file, "listen: 127.0.0.1:9000\nmax-body: 1Mi\nlogLevel: debug\ninsecure-http: true\n");
    process.env.KT_TEST_MAX_BODY = "2Mi";
    try {
      const cmd = command();
      cmd.parse(["--log-level", "warn"], { from: "user" });
      applyConfigFile(cmd, file);
      expect(cmd.opts()).toMatchObject({
        listen: "127.0.0.1:9000",
        maxBody: "2Mi",
        logLevel: "warn",
        insecureHttp: true,
      });
    } finally {
      delete process.env.KT_TEST_MAX_BODY;
    }
  });

  it("refuses unknown keys and wrong types, naming the file", () => {
    const dir = tempDir("kt-config-");
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, "lisen: :1\n");
    const cmd = command();
    cmd.parse([], { from: "user" });
    expect(() => applyConfigFile(cmd, file)).toThrow(`${file}: unknown setting "lisen"`);
    writeFileSync(file, "insecure-http: yes please\n");
    expect(() => applyConfigFile(cmd, file)).toThrow(`${file}: insecure-http must be true or false`);
  });
});
