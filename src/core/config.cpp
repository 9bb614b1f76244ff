#include "zeta/core/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "zeta/core/error.hpp"

namespace zeta {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (trim(s).empty()) return out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(trim(item));
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

void Config::declare(const std::string& name, const std::string& default_value, const std::string& help) {
  if (!keys_.count(name)) order_.push_back(name);
  keys_[name] = Key{name, default_value, help, false, {}, {}};
}

void Config::declare_per_value(const std::string& name, const std::string& selector,
                               const std::vector<std::pair<std::string, std::string>>& per_value,
                               const std::string& default_value, const std::string& help) {
  if (!keys_.count(name)) order_.push_back(name);
  keys_[name] = Key{name, default_value, help, false, selector, per_value};
}

void Config::declare_required(const std::string& name, const std::string& help) {
  if (!keys_.count(name)) order_.push_back(name);
  keys_[name] = Key{name, "", help, true, {}, {}};
}

const Config::Key& Config::key(const std::string& name) const {
  auto it = keys_.find(name);
  if (it == keys_.end()) throw Error("internal: configuration key '" + name + "' was never declared", false);
  return it->second;
}

std::string Config::default_of(const Key& k) const {
  if (k.selector.empty()) return k.default_value;
  const std::string sel = get_string(k.selector);
  for (const auto& [value, def] : k.per_value)
    if (value == sel) return def;
  return k.default_value;
}

void Config::set(const std::string& name, const std::string& value, const std::string&) {
  values_[name] = trim(value);
}

void Config::parse(const std::string& ini_path, const std::vector<std::string>& overrides) {
  std::string text;
  if (!ini_path.empty()) {
    // A directory opens as an empty stream: it would run silently on every default.
    struct stat st;
    if (::stat(ini_path.c_str(), &st) != 0)
      throw Error("cannot read configuration file '" + ini_path + "': " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw Error("configuration file '" + ini_path + "' is a directory, not an INI file");
    std::ifstream in(ini_path);
    if (!in) throw Error("cannot read configuration file '" + ini_path + "': " + std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw Error("read error in configuration file '" + ini_path + "'");
    text = ss.str();
  }
  parse_text(text, overrides, ini_path);
}

// The INI grammar is Boost.Program_options' (parse_config_file), which the files were
// written for: '#' starts a comment anywhere on a line, "[section]" prefixes the keys
// below it, "key = value" with both sides trimmed (the value may be empty), each key
// at most once. Read here line by line so that every error names the file and line.
void Config::parse_text(const std::string& ini_text, const std::vector<std::string>& overrides,
                        const std::string& origin) {
  std::istringstream in(ini_text);
  std::string raw, section;
  std::map<std::string, int> seen;  // key -> line it was given on
  for (int line = 1; std::getline(in, raw); ++line) {
    const std::string where = (origin.empty() ? "configuration" : origin) + ":" + std::to_string(line) + ": ";
    const std::string s = trim(raw.substr(0, raw.find('#')));
    if (s.empty()) continue;
    if (s.front() == '[') {
      if (s.back() != ']' || s.size() < 2)
        throw Error(where + "bad section header '" + s + "' (expected [section])");
      section = trim(s.substr(1, s.size() - 2));
      if (section.empty()) throw Error(where + "empty section name '" + s + "'");
      continue;
    }
    const auto eq = s.find('=');
    if (eq == std::string::npos) throw Error(where + "expected 'key = value', got '" + s + "' (no '=')");
    const std::string k = trim(s.substr(0, eq));
    if (k.empty()) throw Error(where + "no key name before '=' in '" + s + "'");
    if (section.empty()) throw Error(where + "key '" + k + "' comes before any [section]");
    const std::string name = section + "." + k;
    if (!keys_.count(name)) throw Error(where + "unknown configuration key '" + name + "'");
    if (const auto it = seen.find(name); it != seen.end())
      throw Error(where + "configuration key '" + name + "' is given twice (first on line " +
                  std::to_string(it->second) + ")");
    seen[name] = line;
    set(name, s.substr(eq + 1), "");
  }
  // Overrides are applied last, so the command line wins over the file.
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (o.rfind("--", 0) != 0 || eq == std::string::npos)
      throw Error("bad override '" + o + "': expected --section.key=value");
    const std::string name = o.substr(2, eq - 2);
    if (!keys_.count(name)) throw Error("unknown configuration key '" + name + "'");
    set(name, o.substr(eq + 1), "command line");
  }
}

bool Config::given(const std::string& name) const { return values_.count(name) > 0; }

namespace {
//! Whether two values of a key mean the same (Config::differs_from_default).
bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto number = [](const std::string& s, double& v) {
    const char* p = s.c_str();
    char* end = nullptr;
    v = std::strtod(p, &end);
    return !s.empty() && end != p && trim(end).empty();
  };
  const auto boolean = [](const std::string& s, int& v) {
    if (s == "true" || s == "yes" || s == "on" || s == "1")
      v = 1;
    else if (s == "false" || s == "no" || s == "off" || s == "0")
      v = 0;
    else
      return false;
    return true;
  };
  int ba = 0, bb = 0;
  if (boolean(a, ba) && boolean(b, bb)) return ba == bb;
  const auto ia = split(a, ','), ib = split(b, ',');
  if (ia.size() != ib.size() || ia.empty()) return false;
  for (std::size_t i = 0; i < ia.size(); ++i) {
    double x = 0, y = 0;
    if (ia[i] != ib[i] && !(number(ia[i], x) && number(ib[i], y) && x == y)) return false;
  }
  return true;
}
}  // namespace

bool Config::differs_from_default(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return false;
  const Key& k = key(name);
  return k.required || !same_value(it->second, default_of(k));
}

bool Config::has(const std::string& name) const { return given(name) || !key(name).required; }

std::string Config::get_string(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  const Key& k = key(name);
  if (k.required) config_error(name, "is required but not given");
  return default_of(k);
}

namespace {
double to_double(const std::string& name, const std::string& s) {
  const char* b = s.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(b, &end);
  if (s.empty() || end == b || trim(end) != "" || errno == ERANGE)
    config_error(name, "expected a number, got '" + s + "'");
  if (!std::isfinite(v)) config_error(name, "expected a finite number, got '" + s + "'");
  return v;
}
//! An integer written in floating notation ("1e6", "2.5e3", "1.0e2"), read exactly
//! from its digits (no rounding through a double): false when it is not that form;
//! a value that is not whole, or beyond int64, is an error naming the key.
bool exact_integer(const std::string& name, const std::string& s, std::int64_t& out) {
  std::size_t i = 0;
  const bool neg = i < s.size() && s[i] == '-';
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::string digits;  // the mantissa's digits, the point dropped
  long long exp10 = 0;
  bool point = false, any = false;
  for (; i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !point)); ++i) {
    if (s[i] == '.') point = true;
    else {
      digits += s[i];
      any = true;
      if (point) --exp10;
    }
  }
  if (!any) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    const std::string e = s.substr(i);
    if (e.empty() || e.size() > 6 || e.find_first_not_of("+-0123456789") != std::string::npos ||
        e.find_first_of("+-", 1) != std::string::npos || e.find_first_of("0123456789") == std::string::npos)
      return false;
    exp10 += std::stoll(e);
  } else if (i != s.size() || !point) {
    return false;
  }
  // Trailing zeros of the mantissa move into the exponent; leading zeros go.
  while (digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    ++exp10;
  }
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
  if (digits == "0") {
    out = 0;
    return true;
  }
  if (exp10 < 0) config_error(name, "expected an integer, got '" + s + "' (not a whole number)");
  // |value| = digits * 10^exp10 must fit int64 (|INT64_MIN| only for a negative value).
  const unsigned long long limit = neg ? 9223372036854775808ULL : 9223372036854775807ULL;
  unsigned long long v = 0;
  for (char c : digits) {
    if (v > (limit - unsigned(c - '0')) / 10) config_error(name, "integer '" + s + "' is out of range");
    v = v * 10 + unsigned(c - '0');
  }
  for (long long k = 0; k < exp10; ++k) {
    if (v > limit / 10) config_error(name, "integer '" + s + "' is out of range");
    v *= 10;
  }
  out = neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
  return true;
}
std::int64_t to_int(const std::string& name, const std::string& s) {
  const char* b = s.c_str();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(b, &end, 10);
  if (!s.empty() && end != b && trim(end) == "") {
    if (errno == ERANGE) config_error(name, "integer '" + s + "' is out of range");
    return v;
  }
  std::int64_t x = 0;
  if (exact_integer(name, trim(s), x)) return x;
  config_error(name, "expected an integer, got '" + s + "'");
}
}  // namespace

double Config::get_double(const std::string& name) const { return to_double(name, get_string(name)); }

std::int64_t Config::get_int(const std::string& name) const { return to_int(name, get_string(name)); }

bool Config::get_bool(const std::string& name) const {
  const std::string s = get_string(name);
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  config_error(name, "expected true or false, got '" + s + "'");
}

std::vector<double> Config::get_doubles(const std::string& name, char sep) const {
  std::vector<double> out;
  for (const auto& item : split(get_string(name), sep)) out.push_back(to_double(name, item));
  return out;
}

std::vector<std::int64_t> Config::get_ints(const std::string& name) const {
  std::vector<std::int64_t> out;
  for (const auto& item : split(get_string(name), ',')) out.push_back(to_int(name, item));
  return out;
}

double Config::get_positive(const std::string& name) const {
  const double v = get_double(name);
  if (!(v > 0)) config_error(name, "must be > 0, got " + get_string(name));
  return v;
}

double Config::get_nonnegative(const std::string& name) const {
  const double v = get_double(name);
  if (!(v >= 0)) config_error(name, "must be >= 0, got " + get_string(name));
  return v;
}

std::int64_t Config::get_int_at_least(const std::string& name, std::int64_t lo) const {
  const std::int64_t v = get_int(name);
  if (v < lo) config_error(name, "must be >= " + std::to_string(lo) + ", got " + get_string(name));
  return v;
}

std::string Config::get_choice(const std::string& name, const std::vector<std::string>& choices) const {
  const std::string v = get_string(name);
  std::string list;
  for (const auto& c : choices) {
    if (c == v) return v;
    list += (list.empty() ? "" : ", ") + c;
  }
  config_error(name, "must be one of " + list + "; got '" + v + "'");
}

std::string Config::resolved_ini() const {
  std::map<std::string, std::vector<std::string>> sections;
  std::vector<std::string> section_order;
  for (const auto& name : order_) {
    const auto dot = name.find('.');
    const std::string sec = name.substr(0, dot);
    if (!sections.count(sec)) section_order.push_back(sec);
    auto it = values_.find(name);
    const Key& k = key(name);
    if (it == values_.end() && k.required) continue;
    const std::string v = it != values_.end() ? it->second : default_of(k);
    sections[sec].push_back(name.substr(dot + 1) + " = " + v);
  }
  std::string out;
  for (const auto& sec : section_order) {
    if (sections[sec].empty()) continue;
    out += "[" + sec + "]\n";
    for (const auto& line : sections[sec]) out += line + "\n";
  }
  return out;
}

std::string Config::defaults_ini() const {
  Config d;
  d.keys_ = keys_;
  d.order_ = order_;
  return d.resolved_ini();
}

std::string Config::help_text() const {
  std::string out;
  for (const auto& name : order_) {
    const Key& k = key(name);
    std::string def = k.required ? "(required)" : k.default_value;
    if (!k.selector.empty()) {
      // "rbm: sgd, mlp: adam", and "other: X" when another value of the selector gets one.
      def.clear();
      for (const auto& [value, d] : k.per_value) def += (def.empty() ? "" : ", ") + value + ": " + d;
      if (!k.default_value.empty()) def += ", other: " + k.default_value;
    }
    out += "  " + name + " = " + def + "\n      " + k.help + "\n";
  }
  return out;
}

}  // namespace zeta
