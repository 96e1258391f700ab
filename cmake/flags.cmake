# Compiler flags for every target: warnings, frame pointers and debug info always (crash
# reports and perf need them), sanitizers on request.
add_compile_options(
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
  -Wformat=2 -Wvla -Wno-unused-parameter
  -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
  -D_GNU_SOURCE)
if(INFERD_WERROR)
  add_compile_options(-Werror)
endif()
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O2 -g")

if(INFERD_SANITIZE)
  string(REPLACE ";" "," _san "${INFERD_SANITIZE}")
  add_compile_options(-fsanitize=${_san} -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_san})
endif()
