//! The one-line JSON summary every command prints on stdout.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zeta {

//! An ordered JSON object of scalars and numeric arrays; numbers keep full
//! precision (%.17g) so runs can be compared byte for byte.
class JsonSummary {
 public:
  void add(const std::string& key, const std::string& value);
  void add(const std::string& key, const char* value) { add(key, std::string(value)); }
  void add(const std::string& key, double value);
  void add(const std::string& key, std::int64_t value);
  void add(const std::string& key, int value) { add(key, static_cast<std::int64_t>(value)); }
  void add(const std::string& key, bool value);
  void add(const std::string& key, const std::vector<double>& values);
  std::string str() const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

std::string json_number(double v);
std::string json_string(const std::string& s);

}  // namespace zeta
