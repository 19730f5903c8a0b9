/* test_grpc_server.c - unit tests for lib/vault/grpc_server.c (and the
 * connection layer under it, h2conn.c and h2stream.c) through a real
 * gRPC client (tests/grpc/client.py on Debian's python3-grpcio): unary and
 * streaming calls, errors, size limits, concurrency, no ALPN, Shutdown from
 * a handler, and idle once the host leaves. Requests a gRPC library will
 * not send are in test_grpc_server_h2.c; the server under test (one per
 * test, checked fixture) is in grpc_server_util.h. */
#include <check.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "grpc_server_util.h"

extern char **environ;

/* ---- the Python gRPC client ---- */

static int run_client(const char *mode)
{
	const char *script = getenv("GRPC_TEST_CLIENT");
	if (!script)
		script = "tests/grpc/client.py";
	char *argv[] = {"/usr/bin/python3", (char *)script, (char *)mode, T.sock, T.cert, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
	ck_assert_msg(rc == 0, "cannot start python3: %s", strerror(rc));
	int st;
	while (waitpid(pid, &st, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void need_grpcio(void)
{
	char *argv[] = {"/usr/bin/python3", "-c", "import grpc", NULL};
	pid_t pid;
	int st = -1;
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) == 0)
		waitpid(pid, &st, 0);
	ck_assert_msg(st == 0, "these tests need Debian's python3-grpcio "
			       "(apt-get install python3-grpcio)");
}

#define PY_TEST(name)                                                                  \
	START_TEST(py_##name)                                                          \
	{                                                                              \
		need_grpcio();                                                         \
		ck_assert_int_eq(run_client(#name), 0);                                \
	}                                                                              \
	END_TEST

PY_TEST(echo)
PY_TEST(stream)
PY_TEST(bidi)
PY_TEST(unknown)
PY_TEST(errors)
PY_TEST(big)
PY_TEST(toobig)
PY_TEST(max)
PY_TEST(concurrent)
PY_TEST(noalpn)

START_TEST(py_shutdown)
{
	need_grpcio();
	ck_assert_int_eq(run_client("shutdown"), 0);
	/* The Shutdown handler stopped the server: run returns, although the
	 * Hold stream was open. */
	pthread_join(T.thread, NULL);
	T.running = 0;
	ck_assert_int_eq(T.run_rc, MD_OK);
	ck_assert_int_eq(atomic_load(&T.shutdown_called), 1);
	ck_assert_int_eq(atomic_load(&T.hold_cancelled), 1);
	ck_assert_int_eq(md_grpc_server_connections(T.srv), 0);
	ck_assert_int_eq(atomic_load(&T.idle_calls), 0); /* a stop is no "host went away" */
}
END_TEST

START_TEST(py_idle_after_host_leaves)
{
	need_grpcio();
	ck_assert_int_eq(atomic_load(&T.idle_calls), 0);
	ck_assert_int_eq(run_client("echo"), 0);
	/* python exited: its connection closes, the server goes idle */
	WAIT_UNTIL(atomic_load(&T.idle_calls) != 0);
	ck_assert_int_eq(atomic_load(&T.idle_calls), 1);
	ck_assert_int_eq(md_grpc_server_connections(T.srv), 0);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("grpc_server");
	TCase *tc = tcase_create("python_grpc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, py_echo);
	tcase_add_test(tc, py_stream);
	tcase_add_test(tc, py_bidi);
	tcase_add_test(tc, py_unknown);
	tcase_add_test(tc, py_errors);
	tcase_add_test(tc, py_big);
	tcase_add_test(tc, py_toobig);
	tcase_add_test(tc, py_max);
	tcase_add_test(tc, py_concurrent);
	tcase_add_test(tc, py_noalpn);
	tcase_add_test(tc, py_shutdown);
	tcase_add_test(tc, py_idle_after_host_leaves);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* A write to a socket its peer closed must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	SRunner *sr = srunner_create(server_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
