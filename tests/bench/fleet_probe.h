// What fleet_sim reads and changes outside the agent channel: a rule
// through the controller's REST API (a minimal blocking HTTP/1.1 client,
// loopback only), and a controller's CPU time and resident memory from
// /proc.
//
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>

namespace fleet {

// PUT /api/v1/rules/{id} on 127.0.0.1:port with `body` and a bearer
// token. Returns the HTTP status (200 on success), or -1 when the
// connection failed; *error says why when the status is not 200.
int PutRule(int port, const std::string& token, int64_t rule_id,
            const std::string& body, std::string* error);

// utime + stime of process `pid`, in seconds; -1 if it cannot be read.
double ProcessCpuSeconds(int pid);
// utime + stime of the threads of process `pid` named `name`
// (/proc/PID/task/TID/comm), in seconds; 0 if there are none.
double ThreadCpuSeconds(int pid, const std::string& name);
// VmRSS of process `pid`, in bytes; -1 if it cannot be read.
int64_t ProcessRssBytes(int pid);

}  // namespace fleet
