// Goal: the ThreadSanitizer pass catches a data race (CTest expects this program to fail). Two
// threads increment one plain int: without the sanitizer it exits 0.
#include <thread>

namespace {
int counter = 0;  // deliberately unguarded
}

int main() {
  std::thread a([] {
    for (int i = 0; i < 100000; ++i) ++counter;
  });
  std::thread b([] {
    for (int i = 0; i < 100000; ++i) ++counter;
  });
  a.join();
  b.join();
  return counter > 0 ? 0 : 2;
}
