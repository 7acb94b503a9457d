// A user's worker binary: registers its own task and serves a broker with
// shoal::worker_main (the same flags as shoal-worker, but --load).
#include <cctype>
#include <string>

#include <shoal/task.hpp>
#include <shoal/worker_main.hpp>

namespace {

std::string shout(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text + "!";
}

}  // namespace

SHOAL_TASK_AS(shout, "user.shout");

int main(int argc, char** argv) { return shoal::worker_main(argc, argv); }
