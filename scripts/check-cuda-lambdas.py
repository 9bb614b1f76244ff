#!/usr/bin/python3
"""Checks the C++ sources for the two extended-lambda rules that nvcc enforces and g++ does not.

Usage: scripts/check-cuda-lambdas.py DIR...     (exit 1 and one line per violation)
       scripts/check-cuda-lambdas.py --self-test

1. No KOKKOS_LAMBDA in a private or protected member function, nor in a member function
   of a class that is itself a private or protected member ("The enclosing parent
   function for an extended __host__ __device__ lambda cannot have private or protected
   access within its class"). Member functions defined outside their class are looked
   up in the class bodies of all files scanned.
2. No KOKKOS_LAMBDA whose body first names a local of its enclosing function (a
   parameter or a variable, constexpr ones included) inside an `if constexpr`, its
   condition or its branches ("An extended __host__ __device__ lambda cannot
   first-capture variable in constexpr-if context"). Name it before the `if constexpr`
   in the lambda, make it a template argument or namespace constant, or use a plain
   `if` on the constant.

A lexical check, not a compiler: the locals are what looks like a declaration in the
enclosing function before the lambda. Comments, string and character literals and
preprocessor lines are ignored.
"""
import importlib.util
import os
import re
import sys

_spec = importlib.util.spec_from_file_location(
    "function_lengths", os.path.join(os.path.dirname(os.path.abspath(__file__)), "function-lengths.py"))
_fl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fl)

LAMBDA_HEAD = re.compile(
    r"(KOKKOS_LAMBDA|KOKKOS_CLASS_LAMBDA|\[[^\[\]]*\])\s*(\((?:[^()]|\([^()]*\))*\))?\s*(mutable\s*)?(->\s*[\w:<>,\s*&]+)?$")
CONTROL = re.compile(r"^(else\b|do\b|try\b|(if|for|while|switch|catch)\b)|\belse$|\bdo$|\btry$")
CLASS_HEAD = re.compile(r"\b(class|struct|union)\s+(\w+)(?!.*\b(?:class|struct|union)\s+\w)[^;()]*$", re.S)
FUNC_TAIL = re.compile(r"\)\s*(const|noexcept|override|final|&&?|\s)*(->\s*[\w:<>,\s*&]+)?$")
CTOR_INIT = re.compile(r"\)\s*(noexcept\s*)?:(?!:)")
ACCESS = re.compile(r"\b(public|private|protected)\s*:(?!:)")
KEYWORDS = set("""return case else new delete throw goto sizeof alignof typename using namespace
    template class struct union enum operator co_return co_yield if while for switch do const
    constexpr static inline volatile mutable auto decltype""".split())
IDENT = re.compile(r"[A-Za-z_]\w*")
DECL_A = re.compile(r"([\w>*&\]])\s+(?:KOKKOS_RESTRICT\s+)?([A-Za-z_]\w*)\s*(?=[=;,(){\[]|:(?!:))")
DECL_B = re.compile(r",\s*([A-Za-z_]\w*)\s*=(?!=)")
DECL_C = re.compile(r"\bauto\s*&{0,2}\s*\[([^\]]*)\]")


def preprocessor_blank(text):
    """Preprocessor lines (with their continuations) blanked; newlines kept."""
    out, cont = [], False
    for line in text.split("\n"):
        if cont or line.lstrip().startswith("#"):
            cont = line.rstrip().endswith("\\")
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def matching(text, i, open_c, close_c):
    """Index of the bracket closing the one at i."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_c:
            depth += 1
        elif text[j] == close_c:
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


def without_template_heads(text):
    """`template <...>` parameter lists removed: template parameters are not captured."""
    while True:
        m = re.search(r"\btemplate\s*<", text)
        if not m:
            return text
        depth, j = 0, m.end() - 1
        for j in range(m.end() - 1, len(text)):
            depth += {"<": 1, ">": -1}.get(text[j], 0)
            if depth == 0:
                break
        text = text[:m.start()] + " " + text[j + 1:]


def declared_names(text):
    text = without_template_heads(text)
    names = set()
    for m in DECL_A.finditer(text):
        before = text[:m.start(1) + 1]
        word = re.search(r"(\w+)$", before)
        if word and word.group(1) in KEYWORDS and word.group(1) not in ("const", "constexpr", "auto", "static"):
            continue
        if m.group(2) not in KEYWORDS:
            names.add(m.group(2))
    for m in DECL_B.finditer(text):
        names.add(m.group(1))
    for m in DECL_C.finditer(text):
        names.update(n.strip() for n in m.group(1).split(",") if n.strip())
    return names


def used_names(text):
    """Unqualified identifiers in order, with their offsets (not after . -> ::, not before ::)."""
    out = []
    for m in IDENT.finditer(text):
        pre = text[:m.start()].rstrip()
        if pre.endswith(".") or pre.endswith("->") or pre.endswith("::"):
            continue
        if text[m.end():].lstrip().startswith("::"):
            continue
        out.append((m.group(0), m.start()))
    return out


def statement_end(text, i):
    """End (exclusive) of the statement starting at i: a braced block, or up to ';' at depth 0."""
    while i < len(text) and text[i].isspace():
        i += 1
    if i < len(text) and text[i] == "{":
        return matching(text, i, "{", "}") + 1
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == ";" and depth == 0:
            return j + 1
    return len(text)


def constexpr_regions(body):
    """(start, end) of each `if constexpr`: condition, branch and any else branches."""
    regions = []
    for m in re.finditer(r"\bif\s+constexpr\s*\(", body):
        close = matching(body, m.end() - 1, "(", ")")
        end = statement_end(body, close + 1)
        while True:
            rest = re.match(r"\s*else\b", body[end:])
            if not rest:
                break
            end = statement_end(body, end + rest.end())
        regions.append((m.start(), end))
    return regions


def scan(path, text):
    """Scopes of a file: (kind, name, access, parent index, head start, open, close, params)."""
    text = preprocessor_blank(_fl.strip(text))
    scopes, stack = [], []
    head_start = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "{":
            head = text[head_start:i]
            h = " ".join(head.split())
            parent = stack[-1] if stack else None
            access = scopes[parent]["access"] if parent is not None and scopes[parent]["kind"] == "class" else None
            kind, name, params = "other", "", ""
            if LAMBDA_HEAD.search(h):
                kind = "kokkos_lambda" if re.search(r"KOKKOS_(CLASS_)?LAMBDA", LAMBDA_HEAD.search(h).group(1)) \
                    else "lambda"
            elif re.search(r"\bnamespace\b[\w:\s]*$", h) or re.search(r'\bextern\s*""$', h):
                kind = "namespace"
            elif re.search(r"\benum\b", h):
                kind = "other"
            elif CLASS_HEAD.search(h) and "=" not in h.split(CLASS_HEAD.search(h).group(2), 1)[1]:
                m = CLASS_HEAD.search(h)
                kind, name = "class", m.group(2)
            elif CONTROL.search(h.strip()):
                kind = "control"
            elif FUNC_TAIL.search(h) or CTOR_INIT.search(h):
                mo = re.search(r"operator\s*\(\s*\)\s*\(", h)
                p = mo.end() - 1 if mo else h.find("(")
                if p > 0:
                    q = matching(h, p, "(", ")")
                    params = h[p:q + 1]
                    nm = re.search(r"([\w:<>,\s]*?)(\w+|operator\s*\(\s*\))\s*$", h[:p] if not mo else h[:mo.start()] + "operator()")
                    name = nm.group(0).split()[-1] if nm else ""
                    kind = "function"
            scope = dict(kind=kind, name=name, access=None, parent=parent, head_start=head_start, open=i,
                         close=None, params=params, member_access=access, path=path)
            if kind == "class":
                scope["access"] = "private" if re.search(r"\bclass\s+" + re.escape(name), h) else "public"
                scope["members"] = {}
            scopes.append(scope)
            stack.append(len(scopes) - 1)
            head_start = i + 1
        elif c == "}":
            if stack:
                s = scopes[stack.pop()]
                s["close"] = i
                if s["kind"] in ("other", "lambda", "kokkos_lambda"):
                    i += 1
                    continue  # an initializer or lambda: the statement goes on
            head_start = i + 1
        elif c == ";":
            if stack and scopes[stack[-1]]["kind"] == "class":
                cls = scopes[stack[-1]]
                h = text[head_start:i]
                m = re.search(r"(\w+)\s*\(", h)
                if m and "=" not in h[:m.start()]:
                    cls["members"][m.group(1)] = cls["access"]
            head_start = i + 1
        elif c == ":" and stack and scopes[stack[-1]]["kind"] == "class":
            m = ACCESS.search(text, head_start, i + 2)
            if m and m.end() == i + 1:
                scopes[stack[-1]]["access"] = m.group(1)
                head_start = i + 1
        i += 1
    for s in scopes:
        if s["close"] is None:
            s["close"] = len(text)
    return text, scopes


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def check(files):
    """Violations as 'path:line: message' for the (path, text) pairs."""
    scanned = [(path,) + scan(path, text) for path, text in files]
    member_access = {}  # (class, member) -> access, from every class body
    for _, _, scopes in scanned:
        for s in scopes:
            if s["kind"] == "class":
                for m, a in s["members"].items():
                    member_access.setdefault((s["name"], m), a)
    out = []
    for path, text, scopes in scanned:
        for idx, s in enumerate(scopes):
            if s["kind"] != "kokkos_lambda":
                continue
            where = f"{path}:{line_of(text, s['open'])}"
            # Rule 1: the enclosing functions and classes.
            func, p = None, s["parent"]
            while p is not None:
                sc = scopes[p]
                if sc["kind"] == "function":
                    func = func if func is not None else p
                    if sc["member_access"] in ("private", "protected"):
                        cls = scopes[sc["parent"]]["name"]
                        out.append(f"{where}: KOKKOS_LAMBDA in {sc['member_access']} member function "
                                   f"{cls}::{sc['name']} (nvcc refuses it; make the function public or a free function)")
                    elif "::" in sc["name"] and sc["member_access"] is None:
                        parts = re.sub(r"<[^<>]*>", "", sc["name"]).split("::")
                        if len(parts) >= 2:
                            a = member_access.get((parts[-2], parts[-1]))
                            if a in ("private", "protected"):
                                out.append(f"{where}: KOKKOS_LAMBDA in {a} member function {parts[-2]}::{parts[-1]} "
                                           "(nvcc refuses it; make the function public or a free function)")
                elif sc["kind"] == "class" and sc["member_access"] in ("private", "protected"):
                    out.append(f"{where}: KOKKOS_LAMBDA in {sc['member_access']} nested class {sc['name']} "
                               "(nvcc refuses it)")
                p = sc["parent"]
            # Rule 2: locals of the enclosing function first named inside an `if constexpr`.
            if func is None:
                continue
            prefix = text[scopes[func]["head_start"]:s["head_start"]]
            lam_head = text[s["head_start"]:s["open"]]
            lam_start = lam_head.rfind("KOKKOS_")
            prefix += lam_head[:lam_start]
            locals_ = declared_names(prefix)
            body = text[s["head_start"] + lam_start:s["close"]]
            names = used_names(body)
            for r0, r1 in constexpr_regions(body):
                before = {n for n, pos in names if pos < r0}
                inside_decl = declared_names(body[r0:r1])
                flagged = set()
                for n, pos in names:
                    if r0 <= pos < r1 and n in locals_ and n not in before and n not in inside_decl \
                            and n not in flagged:
                        flagged.add(n)
                        out.append(f"{path}:{line_of(text, s['head_start'] + lam_start + pos)}: KOKKOS_LAMBDA "
                                   f"first captures '{n}' inside if constexpr (nvcc refuses it; name it before "
                                   "the if constexpr, or take it as a template argument)")
    return sorted(set(out))


SELF_TEST = {
    "private_member": ("""
template <class Space> class A {
 public:
  void ok(int n) { Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) { (void)i; }); }
 private:
  void bad(int n) { Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) { (void)i; }); }
};""", 1),
    "protected_member_out_of_class": ("""
class B {
 public:
  void ok();
 protected:
  void bad(int n);
};
void B::bad(int n) { Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) { (void)i; }); }
void B::ok() { Kokkos::parallel_for(1, KOKKOS_LAMBDA(int i) { (void)i; }); }""", 1),
    "struct_public_by_default": ("""
struct C { void ok(int n) { Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) { (void)i; }); } };
class D { void bad(int n) { Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) { (void)i; }); } };""", 1),
    "private_nested_class": ("""
class E {
  struct Inner { void f(int n) { Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) { (void)i; }); } };
};""", 1),
    "constexpr_if_first_capture": ("""
template <bool W, int Unused> void f(const View& sums, const View& e, int n) {
  constexpr bool kWide = sizeof(double) == 8;
  const double scale = 2.0;
  Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) {
    e(i) = 0;
    if constexpr (W) {
      sums(i) += scale * e(i);
    }
    if constexpr (kWide) e(i) = 1;
    if constexpr (Unused > 0) e(i) = 2;
  });
}""", 3),
    "constexpr_if_after_capture_ok": ("""
template <bool W> void g(const View& sums, int n) {
  Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) {
    double acc = 0;
    sums(i) = 0;
    if constexpr (W) { float local = 1; sums(i) += acc + local; } else { acc = 1; }
    if (W) sums(i) += 1;
  });
  if constexpr (W) Kokkos::parallel_for(n, KOKKOS_LAMBDA(int i) { sums(i) = 0; });
}""", 0),
    "nested_lambda_in_branch": ("""
template <bool Gauss> void h(const View& v, const View& iv, int n) {
  Kokkos::parallel_for(n, KOKKOS_LAMBDA(const Team& m) {
    const double s = team_sum(m, n, [&](int i) {
      const double x = v(i);
      if constexpr (Gauss) return iv(i) * x; else return x;
    });
  });
}""", 1),
}


def self_test():
    ok = True
    for name, (code, want) in SELF_TEST.items():
        got = check([(name, code)])
        if len(got) != want:
            ok = False
            print(f"self-test {name}: {len(got)} violations, want {want}")
            for g in got:
                print("  " + g)
    print("self-test " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) < 2:
        print(__doc__)
        return 2
    files = []
    for root in argv[1:]:
        for dirpath, _, names in os.walk(root):
            for n in sorted(names):
                if n.endswith((".hpp", ".cpp", ".h", ".cc")):
                    p = os.path.join(dirpath, n)
                    files.append((p, open(p, encoding="utf-8", errors="replace").read()))
    out = check(files)
    for line in out:
        print(line)
    print(f"{len(files)} files, {len(out)} violations of nvcc's extended-lambda rules")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
