/* plugin_broker.c - go-plugin's broker: the host announces, on one long
 * bidirectional stream, where it serves extra services (Storage and
 * SystemView for Setup's broker id). Announcements are kept by id, since
 * one may arrive before or after the Setup that asks for it. */
#include "plugin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "goplugin.pb-c.h"
#include "base/log.h"

#define BROKER_MAX 64

struct conninfo {
	uint32_t id;
	char network[16];
	char address[256];
};

static pthread_mutex_t broker_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t broker_cv = PTHREAD_COND_INITIALIZER;
static struct conninfo infos[BROKER_MAX];
static int ninfos;

static void broker_store(const Plugin__ConnInfo *ci)
{
	pthread_mutex_lock(&broker_mu);
	struct conninfo *slot = NULL;
	for (int i = 0; i < ninfos; i++)
		if (infos[i].id == ci->service_id)
			slot = &infos[i];
	if (!slot)
		slot = &infos[ninfos < BROKER_MAX ? ninfos++ : BROKER_MAX - 1];
	slot->id = ci->service_id;
	snprintf(slot->network, sizeof slot->network, "%s", ci->network ? ci->network : "");
	snprintf(slot->address, sizeof slot->address, "%s", ci->address ? ci->address : "");
	pthread_cond_broadcast(&broker_cv);
	pthread_mutex_unlock(&broker_mu);
	md_log_debug("broker: service %u at %s:%s", ci->service_id, ci->network, ci->address);
}

static void broker_stream(md_grpc_call *c, void *ud)
{
	(void)ud;
	uint8_t *msg;
	size_t len;
	int r;
	while ((r = md_grpc_call_recv(c, &msg, &len)) == 1) {
		Plugin__ConnInfo *ci = plugin__conn_info__unpack(NULL, len, msg);
		free(msg);
		if (!ci) {
			md_log_warn("broker: malformed ConnInfo ignored");
			continue;
		}
		broker_store(ci);
		plugin__conn_info__free_unpacked(ci, NULL);
	}
	md_grpc_call_finish(c, MD_GRPC_OK, NULL);
}

void plugin_broker_register(md_grpc_server *s)
{
	md_grpc_server_handle(s, "/plugin.GRPCBroker/StartStream", broker_stream, NULL);
}

int plugin_broker_wait(uint32_t id, int timeout_ms, char *network, size_t nsz, char *address,
		       size_t asz, md_error *err)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&broker_mu);
	for (;;) {
		for (int i = 0; i < ninfos; i++) {
			if (infos[i].id != id)
				continue;
			snprintf(network, nsz, "%s", infos[i].network);
			snprintf(address, asz, "%s", infos[i].address);
			pthread_mutex_unlock(&broker_mu);
			return MD_OK;
		}
		if (pthread_cond_timedwait(&broker_cv, &broker_mu, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&broker_mu);
	return md_err_set(err, MD_ETRANSIENT,
			  "the host never announced broker id %u within %d ms (no ConnInfo on "
			  "the GRPCBroker stream)", id, timeout_ms);
}
