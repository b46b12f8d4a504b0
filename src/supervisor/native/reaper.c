/*
 * Zombie reaper for a Node.js PID 1 (or child subreaper).
 *
 * libuv only ever waitpid()s the pids it spawned itself, so orphans re-parented to
 * us are never reaped by Node. A naive waitpid(-1) loop would steal the exit status
 * of libuv's own children: libuv then gets ECHILD and never emits 'exit', and every
 * child_process/execa promise hangs. So we peek first (WNOWAIT), skip every pid that
 * belongs to a UV_PROCESS handle on the main loop (or that JS says it owns), and
 * reap only the rest, one pid at a time.
 *
 * Everything here runs on the main JS thread, which is also the only thread that
 * calls uv_spawn on this loop: no spawn can be half-done while we look, and a
 * zombie's pid cannot be reused before it is reaped, so peek-then-reap is race-free.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  pid_t* pids;
  size_t len;
  size_t cap;
  int oom; /* an allocation failed: the set is incomplete, so reaping is unsafe */
} pidset_t;

typedef struct {
  pid_t pid;
  int code;   /* -1 when killed by a signal */
  int signo;  /* 0 when exited normally */
  char comm[32];
} reaped_t;

typedef struct {
  reaped_t* items;
  size_t len;
  size_t cap;
} reapedlist_t;

static int pidset_add(pidset_t* s, pid_t pid) {
  if (s->len == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    pid_t* p = realloc(s->pids, cap * sizeof(pid_t));
    if (!p) {
      s->oom = 1;
      return -1;
    }
    s->pids = p;
    s->cap = cap;
  }
  s->pids[s->len++] = pid;
  return 0;
}

static int pidset_has(const pidset_t* s, pid_t pid) {
  for (size_t i = 0; i < s->len; i++)
    if (s->pids[i] == pid) return 1;
  return 0;
}

static int reapedlist_push(reapedlist_t* l, const reaped_t* r) {
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    reaped_t* p = realloc(l->items, cap * sizeof(reaped_t));
    if (!p) return -1;
    l->items = p;
    l->cap = cap;
  }
  l->items[l->len++] = *r;
  return 0;
}

static void walk_cb(uv_handle_t* h, void* arg) {
  if (h->type == UV_PROCESS) pidset_add((pidset_t*)arg, ((uv_process_t*)h)->pid);
}

/* Read /proc/<pid>/comm before reaping: afterwards the entry is gone. */
static void read_comm(pid_t pid, char* out, size_t outlen) {
  char path[64];
  out[0] = '\0';
  snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, outlen - 1);
  close(fd);
  if (n <= 0) {
    out[0] = '\0';
    return;
  }
  out[n] = '\0';
  char* nl = strchr(out, '\n');
  if (nl) *nl = '\0';
}

/* Reap exactly one pid that is known to be a waitable, not-owned child. */
static int reap_pid(pid_t pid, reapedlist_t* out) {
  reaped_t r;
  memset(&r, 0, sizeof r);
  r.pid = pid;
  read_comm(pid, r.comm, sizeof r.comm);
  siginfo_t si;
  for (;;) {
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, pid, &si, WEXITED | WNOHANG) == 0) break;
    if (errno == EINTR) continue;
    return 0;
  }
  if (si.si_pid == 0) return 0;
  if (si.si_code == CLD_EXITED) {
    r.code = si.si_status;
    r.signo = 0;
  } else {
    r.code = -1;
    r.signo = si.si_status;
  }
  reapedlist_push(out, &r);
  return 1;
}

/* The P_ALL peek always reports the same first waitable child; when that one is
 * libuv's, the zombies behind it are found through /proc instead. */
static void reap_from_proc(const pidset_t* owned, reapedlist_t* out) {
  DIR* d = opendir("/proc");
  if (!d) return;
  pid_t self = getpid();
  struct dirent* e;
  char path[64];
  char buf[512];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
    if (pid <= 0 || pidset_has(owned, pid)) continue;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    /* comm may contain spaces and parentheses: parse after the last ')'. */
    char* rp = strrchr(buf, ')');
    if (!rp) continue;
    char state = 0;
    int ppid = 0;
    if (sscanf(rp + 1, " %c %d", &state, &ppid) != 2) continue;
    if (state == 'Z' && ppid == self) reap_pid(pid, out);
  }
  closedir(d);
}

#define NAPI_CALL(env, call)                                   \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      napi_throw_error((env), NULL, "reaper: " #call " failed"); \
      return NULL;                                             \
    }                                                          \
  } while (0)

static napi_value throw_errno(napi_env env, const char* what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value set_subreaper(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool on = true;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1) NAPI_CALL(env, napi_get_value_bool(env, argv[0], &on));
  if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) != 0)
    return throw_errno(env, "prctl(PR_SET_CHILD_SUBREAPER)");
  return NULL;
}

static napi_value is_subreaper(napi_env env, napi_callback_info info) {
  (void)info;
  int v = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0) != 0)
    return throw_errno(env, "prctl(PR_GET_CHILD_SUBREAPER)");
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, v != 0, &out));
  return out;
}

static napi_value owned_pids(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t* loop = NULL;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  pidset_t owned = {0};
  uv_walk(loop, walk_cb, &owned);
  napi_value arr;
  NAPI_CALL(env, napi_create_array_with_length(env, owned.len, &arr));
  for (size_t i = 0; i < owned.len; i++) {
    napi_value v;
    napi_create_int32(env, owned.pids[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  free(owned.pids);
  return arr;
}

static napi_value reap_orphans(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));

  pidset_t owned = {0};
  uv_loop_t* loop = NULL;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  uv_walk(loop, walk_cb, &owned);

  if (argc >= 1) {
    bool is_array = false;
    NAPI_CALL(env, napi_is_array(env, argv[0], &is_array));
    if (is_array) {
      uint32_t n = 0;
      NAPI_CALL(env, napi_get_array_length(env, argv[0], &n));
      for (uint32_t i = 0; i < n; i++) {
        napi_value v;
        int32_t pid = 0;
        if (napi_get_element(env, argv[0], i, &v) == napi_ok &&
            napi_get_value_int32(env, v, &pid) == napi_ok && pid > 0)
          pidset_add(&owned, pid);
      }
    }
  }

  reapedlist_t out = {0};
  int blocked = 0;
  /* Without the full list of libuv's pids we could steal one of its exits: skip this sweep. */
  for (; !owned.oom;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      break; /* ECHILD: no children at all */
    }
    if (si.si_pid == 0) break; /* nothing has exited */
    if (pidset_has(&owned, si.si_pid)) {
      blocked = 1;
      break;
    }
    if (!reap_pid(si.si_pid, &out)) break;
  }
  if (blocked && !owned.oom) reap_from_proc(&owned, &out);
  free(owned.pids);

  napi_value arr;
  NAPI_CALL(env, napi_create_array_with_length(env, out.len, &arr));
  for (size_t i = 0; i < out.len; i++) {
    napi_value obj, pid, code, signo, comm;
    napi_create_object(env, &obj);
    napi_create_int32(env, out.items[i].pid, &pid);
    if (out.items[i].signo) {
      napi_get_null(env, &code);
      napi_create_int32(env, out.items[i].signo, &signo);
    } else {
      napi_create_int32(env, out.items[i].code, &code);
      napi_get_null(env, &signo);
    }
    napi_create_string_utf8(env, out.items[i].comm, NAPI_AUTO_LENGTH, &comm);
    napi_set_named_property(env, obj, "pid", pid);
    napi_set_named_property(env, obj, "code", code);
    napi_set_named_property(env, obj, "signal", signo);
    napi_set_named_property(env, obj, "comm", comm);
    napi_set_element(env, arr, (uint32_t)i, obj);
  }
  free(out.items);
  return arr;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setSubreaper", NULL, set_subreaper, NULL, NULL, NULL, napi_default, NULL},
      {"isSubreaper", NULL, is_subreaper, NULL, NULL, NULL, napi_default, NULL},
      {"ownedPids", NULL, owned_pids, NULL, NULL, NULL, napi_default, NULL},
      {"reapOrphans", NULL, reap_orphans, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
