//! Configuration: INI file plus --section.key=value overrides, validated in one place.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace zeta {

//! Holds the keys a command accepts, their defaults and documentation, and the
//! values read from the INI file and the command line (the command line wins).
//! Every accessor converts with a check that names the key on failure.
class Config {
 public:
  struct Key {
    std::string name;
    std::string default_value;  //!< empty with required == true means "must be given"
    std::string help;
    bool required = false;
    //! A default that depends on another key's value (declare_per_value): `selector`
    //! names that key, `per_value` maps its values to defaults; any other value takes
    //! default_value.
    std::string selector;
    std::vector<std::pair<std::string, std::string>> per_value;
  };

  //! Declares a key with its default value.
  void declare(const std::string& name, const std::string& default_value, const std::string& help);
  //! Declares a key whose default depends on the value of the key `selector` (e.g.
  //! train.optimizer on model.type): a value of `selector` listed in `per_value` gives
  //! its default, any other `default_value`. A value given for the key always wins;
  //! resolved_ini() holds the resolved value, help_text() every default
  //! ("rbm: sgd, mlp: adam"). `selector` is read as given or at its own default.
  void declare_per_value(const std::string& name, const std::string& selector,
                         const std::vector<std::pair<std::string, std::string>>& per_value,
                         const std::string& default_value, const std::string& help);
  //! Declares a key that has no default; reading it when absent is an error.
  void declare_required(const std::string& name, const std::string& help);

  //! Parses the INI file (may be empty) and the overrides ("--section.key=value").
  //! Unknown keys and malformed lines are errors that name them.
  void parse(const std::string& ini_path, const std::vector<std::string>& overrides);
  //! Parses INI text directly (tests, and restarts from a stored configuration);
  //! errors in it name `origin` (the file) and the line.
  void parse_text(const std::string& ini_text, const std::vector<std::string>& overrides,
                  const std::string& origin = "");

  bool declared(const std::string& name) const { return keys_.count(name) > 0; }
  bool has(const std::string& name) const;  //!< given explicitly or has a default
  bool given(const std::string& name) const;  //!< given explicitly
  //! Given explicitly with a value other than the default that applies (the selector's,
  //! for a per-value key): what a check that refuses a key where it does not apply
  //! must test, so that the resolved configuration (resolved_ini(), which lists every
  //! key at its value) runs again as it is. Values compare as numbers where both sides
  //! are numbers ("0.05" = "5e-2"), item by item for comma lists, as booleans where
  //! both are boolean words ("yes" = "true"), else as strings. A required key
  //! (no default) differs whenever it is given.
  bool differs_from_default(const std::string& name) const;
  std::string get_string(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::int64_t get_int(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  std::vector<double> get_doubles(const std::string& name, char sep = ',') const;
  std::vector<std::int64_t> get_ints(const std::string& name) const;

  //! Range checks that raise an error naming the key.
  double get_positive(const std::string& name) const;
  double get_nonnegative(const std::string& name) const;
  std::int64_t get_int_at_least(const std::string& name, std::int64_t lo) const;
  std::string get_choice(const std::string& name, const std::vector<std::string>& choices) const;

  //! The resolved configuration as INI text (every declared key with its value).
  std::string resolved_ini() const;
  //! The same INI with every key at its default (what a key that an older run's
  //! checkpoint does not know yet is taken to have been).
  std::string defaults_ini() const;
  //! Documentation of every key, for --help.
  std::string help_text() const;

 private:
  const Key& key(const std::string& name) const;
  //! The value of a key that was not given: its default, per the selector's value if it has one.
  std::string default_of(const Key& k) const;
  void set(const std::string& name, const std::string& value, const std::string& origin);

  std::map<std::string, Key> keys_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> values_;
};

//! Trims ASCII whitespace at both ends.
std::string trim(const std::string& s);
//! Splits on `sep`, trimming each item; empty input gives no items.
std::vector<std::string> split(const std::string& s, char sep);

}  // namespace zeta
