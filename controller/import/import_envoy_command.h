// `sluice-controller import-envoy [--api URL] [--token TOKEN] [--apply]
// FILE...`: envoyproxy/ratelimit YAML configuration into Sluice rules
// (common/envoy_import.h does the conversion).
//
//   without --api: prints the config document (stdout) and what could not
//     be mapped exactly (stderr); contacts nothing.
//   with --api:    the files are the truth for their domains: the document
//     sent is the controller's current rules of every other domain plus the
//     converted ones. Prints what could not be mapped, then the dry run's
//     plan (PUT /api/v1/config?dry_run=true): rules created, updated (with
//     the fields that change), deleted, unchanged. Changes nothing unless
//     --apply is given; then applies exactly that plan (If-Match on the
//     revision it was made against: 412 if the rules changed meanwhile).
//
// SLUICE_API and SLUICE_TOKEN stand in for --api and --token. Exit status:
// 0 done, 1 a file or the API refused, 2 bad usage.
//
// Thread-safety: one call at a time per output stream.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace sluice {

int ImportEnvoyCommand(const std::vector<std::string>& args, std::ostream& out,
                       std::ostream& err);

}  // namespace sluice
