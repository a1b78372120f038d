# Courier — a declarative build. `make` builds the node, `make test` runs every test.
# SANITIZER=address|undefined|thread builds into build/<sanitizer>/ instead of build/.

SANITIZER ?=
BUILD := build$(if $(SANITIZER),/$(SANITIZER))

CXX ?= g++
PKGS := libevent libevent_pthreads hiredis RapidJSON spdlog fmt libcrypto prometheus-cpp-core CLI11
TEST_PKGS := gtest_main gmock

SAN_FLAGS_address := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_FLAGS_undefined := -fsanitize=undefined -fno-sanitize-recover=undefined
SAN_FLAGS_thread := -fsanitize=thread
SAN_FLAGS := $(SAN_FLAGS_$(SANITIZER))
OPT := $(if $(SANITIZER),-O1,-O2)

CPPFLAGS := -Iinclude -I$(BUILD)/gen -DSPDLOG_FMT_EXTERNAL $(shell pkg-config --cflags $(PKGS))
# GCC 12 reports false -Wmaybe-uninitialized inside libstdc++ (std::function in std::regex)
# when sanitizers change inlining; the plain build keeps the warning.
SAN_WARN := $(if $(SANITIZER),-Wno-maybe-uninitialized)
# Sanitizer builds keep line tables only (-g1): enough for their stack traces, and much faster
# to compile in CI.
DEBUG := $(if $(SANITIZER),-g1,-g)
CXXFLAGS := -std=c++20 $(OPT) $(DEBUG) -Wall -Wextra -Werror -MMD -MP $(SAN_FLAGS) $(SAN_WARN)
LDFLAGS := $(SAN_FLAGS)
LDLIBS := $(shell pkg-config --libs $(PKGS)) -lpthread
# The node and the bench allocate per request (evhttp above all); jemalloc takes a sixth off the
# node's instructions per request (callgrind, README "Performance"). Sanitizers bring their own
# allocator, so their builds keep glibc's.
MALLOC_LIBS := $(if $(SANITIZER),,-ljemalloc)
TEST_CPPFLAGS := $(shell pkg-config --cflags $(TEST_PKGS))
TEST_LDLIBS := $(shell pkg-config --libs $(TEST_PKGS)) -lhiredis

LAYERS := util http redis core api node
LIB_SRCS := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.cc))
LIB_OBJS := $(LIB_SRCS:%.cc=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/lua_scripts.o
DAEMON_SRCS := $(wildcard src/daemon/*.cc)
# The daemon without its main(), so test binaries (GoogleTest brings main) can link it.
DAEMON_LIB_SRCS := $(filter-out src/daemon/main.cc,$(DAEMON_SRCS))
DAEMON_LIB_OBJS := $(DAEMON_LIB_SRCS:%.cc=$(BUILD)/obj/%.o)
BENCH_SRCS := $(wildcard src/bench/*.cc)
TEST_SRCS := $(wildcard tests/*/*_test.cc) $(wildcard tests/support/*.cc)
TEST_OBJS := $(TEST_SRCS:%.cc=$(BUILD)/obj/%.o)
LUA := $(sort $(wildcard lua/lib/*.lua)) $(sort $(wildcard lua/*.lua))

# The benchmark harness is not built under sanitizers (its smoke test is not run there).
BINS := $(BUILD)/courier $(if $(DAEMON_SRCS),$(BUILD)/courier-daemon) \
    $(if $(and $(BENCH_SRCS),$(if $(SANITIZER),,yes)),$(BUILD)/courier-bench)

.SECONDEXPANSION:
.PHONY: all run test test-unit format tidy clean deps bench
all: $(BINS) $(BUILD)/courier-tests

# Installs what is missing, builds, and runs one node on the embedded default (a private
# redis-server child). ARGS="--listen 127.0.0.1:9000" passes flags.
run:
	scripts/install-deps
	$(MAKE) $(BUILD)/courier
	$(BUILD)/courier $(ARGS)

# The README's test command: installs what is missing, then every unit and integration test
# against real redis-server processes and real node processes over loopback.
test:
	scripts/install-deps
	$(MAKE) all
	COURIER_BUILD=$(BUILD) $(BUILD)/courier-tests $(TEST_ARGS)

deps:
	scripts/install-deps

# The standard comparison (README "Performance"), a few minutes: writes bench/results/.
bench: $(BUILD)/courier $(BUILD)/courier-bench
	scripts/bench-deps && $(BUILD)/courier-bench --standard --out bench/results

$(BUILD)/courier: $(BUILD)/obj/src/main.o $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MALLOC_LIBS)

$(BUILD)/courier-daemon: $(DAEMON_SRCS:%.cc=$(BUILD)/obj/%.o) $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/courier-bench: $(BENCH_SRCS:%.cc=$(BUILD)/obj/%.o) $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MALLOC_LIBS)

$(BUILD)/courier-tests: $(TEST_OBJS) $(LIB_OBJS) $(DAEMON_LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS) $(LDLIBS)

# One test binary per layer, linked with only the layers it depends on, so a layer can be built
# and tested while the layers above it are being written: `make build/test-http`.
LAYER_DEPS_util := util
LAYER_DEPS_http := util http
LAYER_DEPS_redis := util redis
LAYER_DEPS_core := util redis core
LAYER_DEPS_api := util http redis core api
LAYER_DEPS_integration := util
LAYER_DEPS_daemon := util daemon
LAYER_DEPS_bench := util
SUPPORT_OBJS := $(patsubst %.cc,$(BUILD)/obj/%.o,$(wildcard tests/support/*.cc))
# (No '%' inside the secondary expansion: make would replace it with the stem first.)
objs_of = $(addprefix $(BUILD)/obj/,$(addsuffix .o,$(basename $(1))))
# A layer's objects without a program's main(), which would replace GoogleTest's.
not_main = $(filter-out $(BUILD)/obj/src/daemon/main.o $(BUILD)/obj/src/bench/main.o,$(1))
$(BUILD)/test-%: $$(call objs_of,$$(wildcard tests/$$*/*_test.cc)) $(SUPPORT_OBJS) \
    $$(call not_main,$$(foreach l,$$(LAYER_DEPS_$$*),$$(call objs_of,$$(wildcard src/$$(l)/*.cc)))) \
    $(BUILD)/obj/gen/lua_scripts.o
	$(CXX) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS) $(LDLIBS)

# Lua scripts are embedded in the binary: the node never reads lua/ at run time.
$(BUILD)/gen/lua_scripts.cc: $(LUA) scripts/embed-lua
	@mkdir -p $(@D)
	scripts/embed-lua $(LUA) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/lua_scripts.o: $(BUILD)/gen/lua_scripts.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(TEST_CPPFLAGS) -Itests $(CXXFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

format:
	clang-format -i $(shell find src include tests -name '*.cc' -o -name '*.h')

tidy:
	clang-tidy $(LIB_SRCS) src/main.cc -- $(CPPFLAGS) -std=c++20

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
