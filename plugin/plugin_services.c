/* plugin_services.c - the small services go-plugin and Vault call: health,
 * controller (shutdown), multiplexing (unsupported) and the version. */
#include "plugin.h"

#include <stdbool.h>
#include <string.h>

#include "goplugin.pb-c.h"
#include "health.pb-c.h"
#include "base/log.h"
#include "vaultmisc.pb-c.h"
#include "base/version.h"
#include "version.pb-c.h"

static void health_check(md_grpc_call *c, void *ud)
{
	(void)ud;
	Grpc__Health__V1__HealthCheckRequest *rq = (Grpc__Health__V1__HealthCheckRequest *)
		plugin_recv(c, &grpc__health__v1__health_check_request__descriptor);
	if (!rq)
		return;
	bool known = rq->service[0] == '\0' || strcmp(rq->service, "plugin") == 0;
	plugin_free(&rq->base);
	if (!known) {
		md_grpc_call_finish(c, MD_GRPC_NOT_FOUND, "unknown service");
		return;
	}
	Grpc__Health__V1__HealthCheckResponse rs = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	rs.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	plugin_reply(c, &rs.base);
}

static void controller_shutdown(md_grpc_call *c, void *ud)
{
	(void)ud;
	ProtobufCMessage *rq = plugin_recv(c, &plugin__empty__descriptor);
	if (!rq)
		return;
	plugin_free(rq);
	md_log_info("shutdown requested by the host");
	Plugin__Empty rs = PLUGIN__EMPTY__INIT;
	plugin_reply(c, &rs.base);
	/* The reply is queued first; the loop sends it before it stops. */
	plugin_stop();
}

static void multiplexing_support(md_grpc_call *c, void *ud)
{
	(void)ud;
	ProtobufCMessage *rq =
		plugin_recv(c, &pluginutil__multiplexing__multiplexing_support_request__descriptor);
	if (!rq)
		return;
	plugin_free(rq);
	Pluginutil__Multiplexing__MultiplexingSupportResponse rs =
		PLUGINUTIL__MULTIPLEXING__MULTIPLEXING_SUPPORT_RESPONSE__INIT;
	rs.supported = false;
	plugin_reply(c, &rs.base);
}

static void plugin_version(md_grpc_call *c, void *ud)
{
	(void)ud;
	ProtobufCMessage *rq = plugin_recv(c, &logical__empty__descriptor);
	if (!rq)
		return;
	plugin_free(rq);
	Logical__VersionReply rs = LOGICAL__VERSION_REPLY__INIT;
	rs.plugin_version = "v" MD_VERSION;
	plugin_reply(c, &rs.base);
}

void plugin_services_register(md_grpc_server *s)
{
	md_grpc_server_handle(s, "/grpc.health.v1.Health/Check", health_check, NULL);
	md_grpc_server_handle(s, "/plugin.GRPCController/Shutdown", controller_shutdown, NULL);
	md_grpc_server_handle(s, "/pluginutil.multiplexing.PluginMultiplexing/MultiplexingSupport",
			      multiplexing_support, NULL);
	md_grpc_server_handle(s, "/logical.PluginVersion/Version", plugin_version, NULL);
}
