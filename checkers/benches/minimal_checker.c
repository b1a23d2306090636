/*
 * The least a checker that opens one connection per HTTP check can do, as a yardstick for
 * pool_vs_keepalived.sh: what a check costs the director's machine when the checker itself
 * costs nothing but the system calls no such checker can avoid.
 *
 * N real servers (NET.1.x.y, the pool bench's addresses), each checked once a second on a
 * 10 ms grid (server i at slot i % 100), with lvsd's slotted exchange and nothing else: at
 * its slot a check opens a non-blocking socket and connects; one slot later it sends
 * "GET /health"; one slot after that it reads the reply (again each later slot until it has
 * one, at most 300) and closes. Per check: socket, connect, sendto, recvfrom, close, and one
 * clock_nanosleep per slot for all checks of the slot. No clock reads, no epoll, no timeouts,
 * no parsing beyond the status line, no verdicts: not a checker anyone should run.
 *
 * usage: minimal_checker N NET PORT SECONDS    prints "checks C ok K" at the end
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { SLOTS_PER_SECOND = 100, SLOT_NS = 10 * 1000 * 1000, MAX_WAIT_SLOTS = 300 };
enum phase { IDLE, CONNECTING, SENT };

struct server {
	struct sockaddr_in addr;
	int fd;
	enum phase phase;
	int waited;
};

static const char request[] =
	"GET /health HTTP/1.0\r\nUser-Agent: minimal-checker\r\nHost: real-server\r\n\r\n";

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s N NET PORT SECONDS\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[1]), net = atoi(argv[2]), port = atoi(argv[3]);
	long seconds = atol(argv[4]);
	if (n <= 0 || net <= 0 || net > 255 || port <= 0 || port > 65535 || seconds <= 0) {
		fprintf(stderr, "minimal_checker: bad arguments\n");
		return 2;
	}
	struct server *servers = calloc((size_t)n, sizeof *servers);
	if (!servers)
		return 1;
	for (int i = 0; i < n; i++) {
		unsigned a = 1 + i / 62500, b = (i / 250) % 250, c = i % 250 + 1;
		servers[i].addr.sin_family = AF_INET;
		servers[i].addr.sin_port = htons((unsigned short)port);
		servers[i].addr.sin_addr.s_addr = htonl(((unsigned)net << 24) | (a << 16) | (b << 8) | c);
		servers[i].fd = -1;
	}
	struct timespec epoch;
	clock_gettime(CLOCK_MONOTONIC, &epoch);
	long checks = 0, ok = 0;
	char reply[4096];
	for (long slot = 0; slot < seconds * SLOTS_PER_SECOND; slot++) {
		for (int i = 0; i < n; i++) {
			struct server *s = &servers[i];
			if (s->phase == SENT) {
				ssize_t got = recv(s->fd, reply, sizeof reply, 0);
				if (got < 0 && errno == EAGAIN && ++s->waited < MAX_WAIT_SLOTS)
					continue;
				if (got >= 12 && memcmp(reply + 9, "200", 3) == 0)
					ok++;
				close(s->fd);
				s->phase = IDLE;
			} else if (s->phase == CONNECTING) {
				send(s->fd, request, sizeof request - 1, MSG_NOSIGNAL);
				s->phase = SENT;
				s->waited = 0;
			} else if (i % SLOTS_PER_SECOND == slot % SLOTS_PER_SECOND) {
				s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
				if (s->fd < 0)
					continue;
				connect(s->fd, (struct sockaddr *)&s->addr, sizeof s->addr);
				s->phase = CONNECTING;
				checks++;
			}
		}
		long long next = (long long)epoch.tv_nsec + (slot + 1) * (long long)SLOT_NS;
		struct timespec at = { epoch.tv_sec + next / 1000000000, next % 1000000000 };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
			;
	}
	printf("checks %ld ok %ld\n", checks, ok);
	return 0;
}
