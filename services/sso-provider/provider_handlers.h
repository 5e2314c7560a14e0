#pragma once
#include <vector>

#include "presets.h"
#include "provider_probe.h"
#include "provider_service.h"
#include "shared/http/api_guard.h"
#include "shared/http/router.h"

namespace proxyos::sso {

/// The REST endpoints of ARCHITECTURE.md §4 (sso-provider) over a
/// ProviderService: viewers read (providers, presets), admins write and run
/// provider tests (they make outbound requests from this service's network).
http::Router makeProviderRouter(ProviderService& service, ForwardAuthClient& probe, const std::vector<Preset>& presets,
                                const http::ApiGuard& guard);

}  // namespace proxyos::sso
