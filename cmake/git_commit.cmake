# Run at build time (cmake -P): writes OUT, a source file defining zeta::git_commit()
# as the short commit of SRC's HEAD ("unknown" outside a git checkout), and touches
# it only when the commit changed, so a rebuild after a commit recompiles one file
# and `zeta --version`, `zeta info` and the outputs' git_commit name the commit built.
set(commit "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
    OUTPUT_VARIABLE out OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND out)
    set(commit "${out}")
  endif()
endif()
file(WRITE ${OUT}.new "// Generated at build time by cmake/git_commit.cmake.\n#include \"zeta/config.hpp\"\n\nconst char* zeta::git_commit() { return \"${commit}\"; }\n")
configure_file(${OUT}.new ${OUT} COPYONLY)
file(REMOVE ${OUT}.new)
