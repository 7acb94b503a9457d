shared/CMakeFiles/shoal_shared.dir/task_registry.cc.o: \
 /work/main/shared/task_registry.cc /usr/include/stdc-predef.h \
 /usr/include/c++/12/cstdio \
 /usr/include/x86_64-linux-gnu/c++/12/bits/c++config.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/os_defines.h \
 /usr/include/features.h /usr/include/features-time64.h \
 /usr/include/x86_64-linux-gnu/bits/wordsize.h \
 /usr/include/x86_64-linux-gnu/bits/timesize.h \
 /usr/include/x86_64-linux-gnu/sys/cdefs.h \
 /usr/include/x86_64-linux-gnu/bits/long-double.h \
 /usr/include/x86_64-linux-gnu/gnu/stubs.h \
 /usr/include/x86_64-linux-gnu/gnu/stubs-64.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/cpu_defines.h \
 /usr/include/c++/12/pstl/pstl_config.h /usr/include/stdio.h \
 /usr/include/x86_64-linux-gnu/bits/libc-header-start.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stdarg.h \
 /usr/include/x86_64-linux-gnu/bits/types.h \
 /usr/include/x86_64-linux-gnu/bits/typesizes.h \
 /usr/include/x86_64-linux-gnu/bits/time64.h \
 /usr/include/x86_64-linux-gnu/bits/types/__fpos_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__mbstate_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__fpos64_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__FILE.h \
 /usr/include/x86_64-linux-gnu/bits/types/FILE.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_FILE.h \
 /usr/include/x86_64-linux-gnu/bits/types/cookie_io_functions_t.h \
 /usr/include/x86_64-linux-gnu/bits/stdio_lim.h \
 /usr/include/x86_64-linux-gnu/bits/floatn.h \
 /usr/include/x86_64-linux-gnu/bits/floatn-common.h \
 /usr/include/x86_64-linux-gnu/bits/stdio.h /usr/include/c++/12/cstdlib \
 /usr/include/stdlib.h /usr/include/x86_64-linux-gnu/bits/waitflags.h \
 /usr/include/x86_64-linux-gnu/bits/waitstatus.h \
 /usr/include/x86_64-linux-gnu/bits/types/locale_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__locale_t.h \
 /usr/include/x86_64-linux-gnu/sys/types.h \
 /usr/include/x86_64-linux-gnu/bits/types/clock_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/clockid_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/time_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/timer_t.h \
 /usr/include/x86_64-linux-gnu/bits/stdint-intn.h /usr/include/endian.h \
 /usr/include/x86_64-linux-gnu/bits/endian.h \
 /usr/include/x86_64-linux-gnu/bits/endianness.h \
 /usr/include/x86_64-linux-gnu/bits/byteswap.h \
 /usr/include/x86_64-linux-gnu/bits/uintn-identity.h \
 /usr/include/x86_64-linux-gnu/sys/select.h \
 /usr/include/x86_64-linux-gnu/bits/select.h \
 /usr/include/x86_64-linux-gnu/bits/types/sigset_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/__sigset_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_timeval.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_timespec.h \
 /usr/include/x86_64-linux-gnu/bits/pthreadtypes.h \
 /usr/include/x86_64-linux-gnu/bits/thread-shared-types.h \
 /usr/include/x86_64-linux-gnu/bits/pthreadtypes-arch.h \
 /usr/include/x86_64-linux-gnu/bits/atomic_wide_counter.h \
 /usr/include/x86_64-linux-gnu/bits/struct_mutex.h \
 /usr/include/x86_64-linux-gnu/bits/struct_rwlock.h /usr/include/alloca.h \
 /usr/include/x86_64-linux-gnu/bits/stdlib-bsearch.h \
 /usr/include/x86_64-linux-gnu/bits/stdlib-float.h \
 /usr/include/c++/12/bits/std_abs.h /usr/include/c++/12/map \
 /usr/include/c++/12/bits/stl_tree.h \
 /usr/include/c++/12/bits/stl_algobase.h \
 /usr/include/c++/12/bits/functexcept.h \
 /usr/include/c++/12/bits/exception_defines.h \
 /usr/include/c++/12/bits/cpp_type_traits.h \
 /usr/include/c++/12/ext/type_traits.h \
 /usr/include/c++/12/ext/numeric_traits.h \
 /usr/include/c++/12/bits/stl_pair.h /usr/include/c++/12/type_traits \
 /usr/include/c++/12/bits/move.h /usr/include/c++/12/bits/utility.h \
 /usr/include/c++/12/compare /usr/include/c++/12/concepts \
 /usr/include/c++/12/bits/stl_iterator_base_types.h \
 /usr/include/c++/12/bits/iterator_concepts.h \
 /usr/include/c++/12/bits/ptr_traits.h \
 /usr/include/c++/12/bits/ranges_cmp.h \
 /usr/include/c++/12/bits/stl_iterator_base_funcs.h \
 /usr/include/c++/12/bits/concept_check.h \
 /usr/include/c++/12/debug/assertions.h \
 /usr/include/c++/12/bits/stl_iterator.h /usr/include/c++/12/new \
 /usr/include/c++/12/bits/exception.h \
 /usr/include/c++/12/bits/stl_construct.h \
 /usr/include/c++/12/debug/debug.h \
 /usr/include/c++/12/bits/predefined_ops.h \
 /usr/include/c++/12/bits/allocator.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/c++allocator.h \
 /usr/include/c++/12/bits/new_allocator.h \
 /usr/include/c++/12/bits/memoryfwd.h \
 /usr/include/c++/12/bits/stl_function.h \
 /usr/include/c++/12/backward/binders.h \
 /usr/include/c++/12/ext/alloc_traits.h \
 /usr/include/c++/12/bits/alloc_traits.h \
 /usr/include/c++/12/ext/aligned_buffer.h \
 /usr/include/c++/12/bits/node_handle.h \
 /usr/include/c++/12/bits/stl_map.h /usr/include/c++/12/initializer_list \
 /usr/include/c++/12/tuple /usr/include/c++/12/bits/uses_allocator.h \
 /usr/include/c++/12/bits/invoke.h \
 /usr/include/c++/12/bits/stl_multimap.h \
 /usr/include/c++/12/bits/range_access.h \
 /usr/include/c++/12/bits/erase_if.h /usr/include/c++/12/memory \
 /usr/include/c++/12/bits/stl_uninitialized.h \
 /usr/include/c++/12/bits/stl_tempbuf.h \
 /usr/include/c++/12/bits/stl_raw_storage_iter.h \
 /usr/include/c++/12/bits/align.h /usr/include/c++/12/bit \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stdint.h /usr/include/stdint.h \
 /usr/include/x86_64-linux-gnu/bits/wchar.h \
 /usr/include/x86_64-linux-gnu/bits/stdint-uintn.h \
 /usr/include/c++/12/bits/unique_ptr.h \
 /usr/include/c++/12/bits/functional_hash.h \
 /usr/include/c++/12/bits/hash_bytes.h /usr/include/c++/12/ostream \
 /usr/include/c++/12/ios /usr/include/c++/12/iosfwd \
 /usr/include/c++/12/bits/stringfwd.h /usr/include/c++/12/bits/postypes.h \
 /usr/include/c++/12/cwchar /usr/include/wchar.h \
 /usr/include/x86_64-linux-gnu/bits/types/wint_t.h \
 /usr/include/x86_64-linux-gnu/bits/types/mbstate_t.h \
 /usr/include/c++/12/exception /usr/include/c++/12/bits/exception_ptr.h \
 /usr/include/c++/12/bits/cxxabi_init_exception.h \
 /usr/include/c++/12/typeinfo /usr/include/c++/12/bits/nested_exception.h \
 /usr/include/c++/12/bits/char_traits.h /usr/include/c++/12/cstdint \
 /usr/include/c++/12/bits/localefwd.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/c++locale.h \
 /usr/include/c++/12/clocale /usr/include/locale.h \
 /usr/include/x86_64-linux-gnu/bits/locale.h /usr/include/c++/12/cctype \
 /usr/include/ctype.h /usr/include/c++/12/bits/ios_base.h \
 /usr/include/c++/12/ext/atomicity.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/gthr.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/gthr-default.h \
 /usr/include/pthread.h /usr/include/sched.h \
 /usr/include/x86_64-linux-gnu/bits/sched.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_sched_param.h \
 /usr/include/x86_64-linux-gnu/bits/cpu-set.h /usr/include/time.h \
 /usr/include/x86_64-linux-gnu/bits/time.h \
 /usr/include/x86_64-linux-gnu/bits/timex.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_tm.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_itimerspec.h \
 /usr/include/x86_64-linux-gnu/bits/setjmp.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct___jmp_buf_tag.h \
 /usr/include/x86_64-linux-gnu/bits/pthread_stack_min-dynamic.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/atomic_word.h \
 /usr/include/x86_64-linux-gnu/sys/single_threaded.h \
 /usr/include/c++/12/bits/locale_classes.h /usr/include/c++/12/string \
 /usr/include/c++/12/bits/ostream_insert.h \
 /usr/include/c++/12/bits/cxxabi_forced.h \
 /usr/include/c++/12/bits/refwrap.h \
 /usr/include/c++/12/bits/basic_string.h /usr/include/c++/12/string_view \
 /usr/include/c++/12/bits/ranges_base.h \
 /usr/include/c++/12/bits/max_size_type.h /usr/include/c++/12/numbers \
 /usr/include/c++/12/bits/string_view.tcc \
 /usr/include/c++/12/ext/string_conversions.h /usr/include/c++/12/cerrno \
 /usr/include/errno.h /usr/include/x86_64-linux-gnu/bits/errno.h \
 /usr/include/linux/errno.h /usr/include/x86_64-linux-gnu/asm/errno.h \
 /usr/include/asm-generic/errno.h /usr/include/asm-generic/errno-base.h \
 /usr/include/x86_64-linux-gnu/bits/types/error_t.h \
 /usr/include/c++/12/bits/charconv.h \
 /usr/include/c++/12/bits/basic_string.tcc \
 /usr/include/c++/12/bits/locale_classes.tcc \
 /usr/include/c++/12/system_error \
 /usr/include/x86_64-linux-gnu/c++/12/bits/error_constants.h \
 /usr/include/c++/12/stdexcept /usr/include/c++/12/streambuf \
 /usr/include/c++/12/bits/streambuf.tcc \
 /usr/include/c++/12/bits/basic_ios.h \
 /usr/include/c++/12/bits/locale_facets.h /usr/include/c++/12/cwctype \
 /usr/include/wctype.h /usr/include/x86_64-linux-gnu/bits/wctype-wchar.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/ctype_base.h \
 /usr/include/c++/12/bits/streambuf_iterator.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/ctype_inline.h \
 /usr/include/c++/12/bits/locale_facets.tcc \
 /usr/include/c++/12/bits/basic_ios.tcc \
 /usr/include/c++/12/bits/ostream.tcc \
 /usr/include/c++/12/bits/shared_ptr.h \
 /usr/include/c++/12/bits/shared_ptr_base.h \
 /usr/include/c++/12/bits/allocated_ptr.h \
 /usr/include/c++/12/ext/concurrence.h \
 /usr/include/c++/12/bits/shared_ptr_atomic.h \
 /usr/include/c++/12/bits/atomic_base.h \
 /usr/include/c++/12/bits/atomic_lockfree_defines.h \
 /usr/include/c++/12/bits/atomic_wait.h /usr/include/c++/12/climits \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/limits.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/syslimits.h \
 /usr/include/limits.h /usr/include/x86_64-linux-gnu/bits/posix1_lim.h \
 /usr/include/x86_64-linux-gnu/bits/local_lim.h \
 /usr/include/linux/limits.h \
 /usr/include/x86_64-linux-gnu/bits/posix2_lim.h \
 /usr/include/x86_64-linux-gnu/bits/xopen_lim.h \
 /usr/include/x86_64-linux-gnu/bits/uio_lim.h /usr/include/unistd.h \
 /usr/include/x86_64-linux-gnu/bits/posix_opt.h \
 /usr/include/x86_64-linux-gnu/bits/environments.h \
 /usr/include/x86_64-linux-gnu/bits/confname.h \
 /usr/include/x86_64-linux-gnu/bits/getopt_posix.h \
 /usr/include/x86_64-linux-gnu/bits/getopt_core.h \
 /usr/include/x86_64-linux-gnu/bits/unistd_ext.h \
 /usr/include/linux/close_range.h /usr/include/syscall.h \
 /usr/include/x86_64-linux-gnu/sys/syscall.h \
 /usr/include/x86_64-linux-gnu/asm/unistd.h \
 /usr/include/x86_64-linux-gnu/asm/unistd_64.h \
 /usr/include/x86_64-linux-gnu/bits/syscall.h \
 /usr/include/c++/12/bits/std_mutex.h \
 /usr/include/c++/12/backward/auto_ptr.h \
 /usr/include/c++/12/bits/ranges_uninitialized.h \
 /usr/include/c++/12/bits/ranges_algobase.h \
 /usr/include/c++/12/bits/uses_allocator_args.h \
 /usr/include/c++/12/pstl/glue_memory_defs.h \
 /usr/include/c++/12/pstl/execution_defs.h /usr/include/c++/12/mutex \
 /usr/include/c++/12/bits/chrono.h /usr/include/c++/12/ratio \
 /usr/include/c++/12/limits /usr/include/c++/12/ctime \
 /usr/include/c++/12/bits/parse_numbers.h \
 /usr/include/c++/12/bits/unique_lock.h /usr/include/c++/12/shared_mutex \
 /usr/include/c++/12/unordered_map /usr/include/c++/12/bits/hashtable.h \
 /usr/include/c++/12/bits/hashtable_policy.h \
 /usr/include/c++/12/bits/enable_special_members.h \
 /usr/include/c++/12/bits/unordered_map.h \
 /work/main/shared/include/shoal/task.hpp /usr/include/c++/12/cstring \
 /usr/include/string.h /usr/include/strings.h /usr/include/c++/12/utility \
 /usr/include/c++/12/bits/stl_relops.h /usr/include/c++/12/vector \
 /usr/include/c++/12/bits/stl_vector.h \
 /usr/include/c++/12/bits/stl_bvector.h \
 /usr/include/c++/12/bits/vector.tcc \
 /work/main/shared/include/shoal/codec.hpp /usr/include/c++/12/array \
 /usr/include/c++/12/cstddef /usr/include/c++/12/deque \
 /usr/include/c++/12/bits/stl_deque.h /usr/include/c++/12/bits/deque.tcc \
 /usr/include/c++/12/list /usr/include/c++/12/bits/stl_list.h \
 /usr/include/c++/12/bits/list.tcc /usr/include/c++/12/optional \
 /usr/include/c++/12/set /usr/include/c++/12/bits/stl_set.h \
 /usr/include/c++/12/bits/stl_multiset.h \
 /usr/include/google/protobuf/message_lite.h \
 /usr/include/google/protobuf/stubs/common.h \
 /usr/include/c++/12/algorithm /usr/include/c++/12/bits/stl_algo.h \
 /usr/include/c++/12/bits/algorithmfwd.h \
 /usr/include/c++/12/bits/stl_heap.h \
 /usr/include/c++/12/bits/uniform_int_dist.h \
 /usr/include/c++/12/bits/ranges_algo.h \
 /usr/include/c++/12/bits/ranges_util.h \
 /usr/include/c++/12/pstl/glue_algorithm_defs.h \
 /usr/include/c++/12/iostream /usr/include/c++/12/istream \
 /usr/include/c++/12/bits/istream.tcc \
 /usr/include/google/protobuf/stubs/macros.h \
 /usr/include/google/protobuf/stubs/platform_macros.h \
 /usr/include/google/protobuf/stubs/port.h /usr/include/assert.h \
 /usr/include/c++/12/stdlib.h /usr/include/google/protobuf/port_def.inc \
 /usr/include/byteswap.h /usr/include/google/protobuf/port_undef.inc \
 /usr/include/google/protobuf/stubs/stringpiece.h \
 /usr/include/google/protobuf/stubs/hash.h \
 /usr/include/c++/12/unordered_set \
 /usr/include/c++/12/bits/unordered_set.h \
 /usr/include/google/protobuf/stubs/logging.h \
 /usr/include/google/protobuf/stubs/status.h \
 /usr/include/google/protobuf/io/coded_stream.h \
 /usr/include/c++/12/atomic /usr/include/google/protobuf/stubs/strutil.h \
 /usr/include/google/protobuf/port.h /usr/include/google/protobuf/arena.h \
 /usr/include/google/protobuf/arena_impl.h \
 /usr/include/google/protobuf/arenaz_sampler.h \
 /usr/include/google/protobuf/stubs/once.h \
 /usr/include/google/protobuf/explicitly_constructed.h \
 /usr/include/google/protobuf/metadata_lite.h /usr/include/msgpack.hpp \
 /usr/include/msgpack/object.hpp /usr/include/msgpack/object_decl.hpp \
 /usr/include/msgpack/v1/object_decl.hpp \
 /usr/include/msgpack/versioning.hpp /usr/include/msgpack/cpp_version.hpp \
 /usr/include/msgpack/pack.hpp /usr/include/msgpack/pack_decl.hpp \
 /usr/include/msgpack/v1/pack_decl.hpp \
 /usr/include/msgpack/cpp_config.hpp \
 /usr/include/msgpack/cpp_config_decl.hpp \
 /usr/include/msgpack/v1/cpp_config_decl.hpp \
 /usr/include/msgpack/v2/cpp_config_decl.hpp \
 /usr/include/msgpack/v3/cpp_config_decl.hpp \
 /usr/include/msgpack/v1/cpp_config.hpp /usr/include/msgpack/sysdep.hpp \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stdbool.h \
 /usr/include/arpa/inet.h /usr/include/netinet/in.h \
 /usr/include/x86_64-linux-gnu/sys/socket.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_iovec.h \
 /usr/include/x86_64-linux-gnu/bits/socket.h \
 /usr/include/x86_64-linux-gnu/bits/socket_type.h \
 /usr/include/x86_64-linux-gnu/bits/sockaddr.h \
 /usr/include/x86_64-linux-gnu/asm/socket.h \
 /usr/include/asm-generic/socket.h /usr/include/linux/posix_types.h \
 /usr/include/linux/stddef.h \
 /usr/include/x86_64-linux-gnu/asm/posix_types.h \
 /usr/include/x86_64-linux-gnu/asm/posix_types_64.h \
 /usr/include/asm-generic/posix_types.h \
 /usr/include/x86_64-linux-gnu/asm/bitsperlong.h \
 /usr/include/asm-generic/bitsperlong.h \
 /usr/include/x86_64-linux-gnu/asm/sockios.h \
 /usr/include/asm-generic/sockios.h \
 /usr/include/x86_64-linux-gnu/bits/types/struct_osockaddr.h \
 /usr/include/x86_64-linux-gnu/bits/in.h \
 /usr/include/boost/predef/other/endian.h \
 /usr/include/boost/predef/version_number.h \
 /usr/include/boost/predef/make.h /usr/include/boost/predef/detail/test.h \
 /usr/include/boost/predef/library/c/gnu.h \
 /usr/include/boost/predef/library/c/_prefix.h \
 /usr/include/boost/predef/detail/_cassert.h /usr/include/c++/12/cassert \
 /usr/include/boost/predef/os/macos.h /usr/include/boost/predef/os/ios.h \
 /usr/include/boost/predef/os/bsd.h \
 /usr/include/boost/predef/os/bsd/bsdi.h \
 /usr/include/boost/predef/os/bsd/dragonfly.h \
 /usr/include/boost/predef/os/bsd/free.h \
 /usr/include/boost/predef/os/bsd/open.h \
 /usr/include/boost/predef/os/bsd/net.h \
 /usr/include/boost/predef/platform/android.h \
 /usr/include/msgpack/v2/pack_decl.hpp \
 /usr/include/msgpack/v3/pack_decl.hpp /usr/include/msgpack/v1/pack.hpp \
 /usr/include/msgpack/zone.hpp /usr/include/msgpack/zone_decl.hpp \
 /usr/include/msgpack/v1/zone_decl.hpp \
 /usr/include/msgpack/v1/detail/cpp11_zone_decl.hpp \
 /usr/include/msgpack/v2/zone_decl.hpp \
 /usr/include/msgpack/v2/detail/cpp11_zone_decl.hpp \
 /usr/include/msgpack/v3/zone_decl.hpp \
 /usr/include/msgpack/v3/detail/cpp11_zone_decl.hpp \
 /usr/include/msgpack/v1/zone.hpp \
 /usr/include/msgpack/v1/detail/cpp11_zone.hpp \
 /usr/include/msgpack/assert.hpp /usr/include/boost/assert.hpp \
 /usr/include/msgpack/adaptor/adaptor_base.hpp \
 /usr/include/msgpack/adaptor/adaptor_base_decl.hpp \
 /usr/include/msgpack/v1/adaptor/adaptor_base_decl.hpp \
 /usr/include/msgpack/object_fwd.hpp \
 /usr/include/msgpack/object_fwd_decl.hpp \
 /usr/include/msgpack/v1/object_fwd_decl.hpp \
 /usr/include/msgpack/v2/object_fwd_decl.hpp \
 /usr/include/msgpack/v3/object_fwd_decl.hpp \
 /usr/include/msgpack/v1/object_fwd.hpp \
 /usr/include/msgpack/v2/object_fwd.hpp \
 /usr/include/msgpack/v3/object_fwd.hpp \
 /usr/include/msgpack/v2/adaptor/adaptor_base_decl.hpp \
 /usr/include/msgpack/v3/adaptor/adaptor_base_decl.hpp \
 /usr/include/msgpack/v1/adaptor/adaptor_base.hpp \
 /usr/include/msgpack/v2/adaptor/adaptor_base.hpp \
 /usr/include/msgpack/v3/adaptor/adaptor_base.hpp \
 /usr/include/c++/12/iomanip /usr/include/c++/12/locale \
 /usr/include/c++/12/bits/locale_facets_nonio.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/time_members.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/messages_members.h \
 /usr/include/libintl.h /usr/include/c++/12/bits/codecvt.h \
 /usr/include/c++/12/bits/locale_facets_nonio.tcc \
 /usr/include/c++/12/bits/locale_conv.h \
 /usr/include/c++/12/bits/quoted_string.h /usr/include/c++/12/sstream \
 /usr/include/c++/12/bits/sstream.tcc \
 /usr/include/msgpack/v2/object_decl.hpp \
 /usr/include/msgpack/v3/object_decl.hpp \
 /usr/include/msgpack/v1/object.hpp \
 /usr/include/msgpack/adaptor/check_container_size.hpp \
 /usr/include/msgpack/adaptor/check_container_size_decl.hpp \
 /usr/include/msgpack/v1/adaptor/check_container_size_decl.hpp \
 /usr/include/msgpack/v2/adaptor/check_container_size_decl.hpp \
 /usr/include/msgpack/v3/adaptor/check_container_size_decl.hpp \
 /usr/include/msgpack/v1/adaptor/check_container_size.hpp \
 /usr/include/msgpack/v2/object.hpp /usr/include/msgpack/iterator.hpp \
 /usr/include/msgpack/iterator_decl.hpp \
 /usr/include/msgpack/v1/iterator_decl.hpp \
 /usr/include/msgpack/v2/iterator_decl.hpp \
 /usr/include/msgpack/v3/iterator_decl.hpp \
 /usr/include/msgpack/v1/iterator.hpp \
 /usr/include/msgpack/v1/fbuffer_decl.hpp /usr/include/msgpack/zone.hpp \
 /usr/include/msgpack/pack.hpp /usr/include/msgpack/null_visitor.hpp \
 /usr/include/msgpack/null_visitor_decl.hpp \
 /usr/include/msgpack/v2/null_visitor_decl.hpp \
 /usr/include/msgpack/v3/null_visitor_decl.hpp \
 /usr/include/msgpack/v2/null_visitor.hpp /usr/include/msgpack/parse.hpp \
 /usr/include/msgpack/parse_decl.hpp \
 /usr/include/msgpack/v2/parse_decl.hpp \
 /usr/include/msgpack/parse_return.hpp \
 /usr/include/msgpack/v1/parse_return.hpp \
 /usr/include/msgpack/v2/parse_return.hpp \
 /usr/include/msgpack/v3/parse_return.hpp \
 /usr/include/msgpack/v3/parse_decl.hpp /usr/include/msgpack/v2/parse.hpp \
 /usr/include/msgpack/unpack_define.hpp \
 /usr/include/msgpack/unpack_exception.hpp \
 /usr/include/msgpack/v1/unpack_exception.hpp \
 /usr/include/msgpack/unpack_decl.hpp \
 /usr/include/msgpack/v1/unpack_decl.hpp /usr/include/msgpack/object.hpp \
 /usr/include/msgpack/v2/unpack_decl.hpp \
 /usr/include/msgpack/v3/unpack_decl.hpp \
 /usr/include/msgpack/v3/parse.hpp /usr/include/msgpack/unpack.hpp \
 /usr/include/msgpack/v1/unpack.hpp /usr/include/msgpack/v2/unpack.hpp \
 /usr/include/msgpack/parse.hpp \
 /usr/include/msgpack/create_object_visitor.hpp \
 /usr/include/msgpack/create_object_visitor_decl.hpp \
 /usr/include/msgpack/v2/create_object_visitor_decl.hpp \
 /usr/include/msgpack/v3/create_object_visitor_decl.hpp \
 /usr/include/msgpack/v2/create_object_visitor.hpp \
 /usr/include/msgpack/v3/unpack.hpp /usr/include/msgpack/x3_parse.hpp \
 /usr/include/msgpack/v2/x3_parse.hpp /usr/include/msgpack/x3_unpack.hpp \
 /usr/include/msgpack/v2/x3_unpack.hpp \
 /usr/include/msgpack/v3/x3_unpack.hpp /usr/include/msgpack/sbuffer.hpp \
 /usr/include/msgpack/sbuffer_decl.hpp \
 /usr/include/msgpack/v1/sbuffer_decl.hpp \
 /usr/include/msgpack/v2/sbuffer_decl.hpp \
 /usr/include/msgpack/v3/sbuffer_decl.hpp \
 /usr/include/msgpack/v1/sbuffer.hpp /usr/include/msgpack/vrefbuffer.hpp \
 /usr/include/msgpack/vrefbuffer_decl.hpp \
 /usr/include/msgpack/v1/vrefbuffer_decl.hpp \
 /usr/include/msgpack/v2/vrefbuffer_decl.hpp \
 /usr/include/msgpack/v3/vrefbuffer_decl.hpp \
 /usr/include/msgpack/v1/vrefbuffer.hpp \
 /usr/include/x86_64-linux-gnu/sys/uio.h \
 /usr/include/x86_64-linux-gnu/bits/uio-ext.h \
 /usr/include/msgpack/version.hpp /usr/include/msgpack/version_master.hpp \
 /usr/include/msgpack/type.hpp /usr/include/msgpack/cpp_config.hpp \
 /usr/include/msgpack/adaptor/array_ref.hpp \
 /usr/include/msgpack/adaptor/array_ref_decl.hpp \
 /usr/include/msgpack/v1/adaptor/array_ref_decl.hpp \
 /usr/include/msgpack/v2/adaptor/array_ref_decl.hpp \
 /usr/include/msgpack/v3/adaptor/array_ref_decl.hpp \
 /usr/include/msgpack/v1/adaptor/array_ref.hpp \
 /usr/include/msgpack/adaptor/bool.hpp \
 /usr/include/msgpack/v1/adaptor/bool.hpp \
 /usr/include/msgpack/adaptor/carray.hpp \
 /usr/include/msgpack/v1/adaptor/carray.hpp \
 /usr/include/msgpack/adaptor/char_ptr.hpp \
 /usr/include/msgpack/v1/adaptor/char_ptr.hpp \
 /usr/include/msgpack/adaptor/deque.hpp \
 /usr/include/msgpack/v1/adaptor/deque.hpp \
 /usr/include/msgpack/adaptor/ext.hpp \
 /usr/include/msgpack/adaptor/ext_decl.hpp \
 /usr/include/msgpack/v1/adaptor/ext_decl.hpp \
 /usr/include/msgpack/v2/adaptor/ext_decl.hpp \
 /usr/include/msgpack/v3/adaptor/ext_decl.hpp \
 /usr/include/msgpack/v1/adaptor/ext.hpp \
 /usr/include/msgpack/adaptor/fixint.hpp \
 /usr/include/msgpack/adaptor/fixint_decl.hpp \
 /usr/include/msgpack/v1/adaptor/fixint_decl.hpp \
 /usr/include/msgpack/adaptor/int.hpp \
 /usr/include/msgpack/adaptor/int_decl.hpp \
 /usr/include/msgpack/v1/adaptor/int_decl.hpp \
 /usr/include/msgpack/v2/adaptor/int_decl.hpp \
 /usr/include/msgpack/v3/adaptor/int_decl.hpp \
 /usr/include/msgpack/v1/adaptor/int.hpp \
 /usr/include/msgpack/v2/adaptor/fixint_decl.hpp \
 /usr/include/msgpack/v3/adaptor/fixint_decl.hpp \
 /usr/include/msgpack/v1/adaptor/fixint.hpp \
 /usr/include/msgpack/adaptor/float.hpp \
 /usr/include/msgpack/v1/adaptor/float.hpp \
 /usr/include/msgpack/adaptor/int.hpp \
 /usr/include/msgpack/adaptor/complex.hpp \
 /usr/include/msgpack/v1/adaptor/complex.hpp /usr/include/c++/12/complex \
 /usr/include/c++/12/cmath /usr/include/math.h \
 /usr/include/x86_64-linux-gnu/bits/math-vector.h \
 /usr/include/x86_64-linux-gnu/bits/libm-simd-decl-stubs.h \
 /usr/include/x86_64-linux-gnu/bits/flt-eval-method.h \
 /usr/include/x86_64-linux-gnu/bits/fp-logb.h \
 /usr/include/x86_64-linux-gnu/bits/fp-fast.h \
 /usr/include/x86_64-linux-gnu/bits/mathcalls-helper-functions.h \
 /usr/include/x86_64-linux-gnu/bits/mathcalls.h \
 /usr/include/x86_64-linux-gnu/bits/mathcalls-narrow.h \
 /usr/include/x86_64-linux-gnu/bits/iscanonical.h \
 /usr/include/c++/12/bits/specfun.h /usr/include/c++/12/tr1/gamma.tcc \
 /usr/include/c++/12/tr1/special_function_util.h \
 /usr/include/c++/12/tr1/bessel_function.tcc \
 /usr/include/c++/12/tr1/beta_function.tcc \
 /usr/include/c++/12/tr1/ell_integral.tcc \
 /usr/include/c++/12/tr1/exp_integral.tcc \
 /usr/include/c++/12/tr1/hypergeometric.tcc \
 /usr/include/c++/12/tr1/legendre_function.tcc \
 /usr/include/c++/12/tr1/modified_bessel_func.tcc \
 /usr/include/c++/12/tr1/poly_hermite.tcc \
 /usr/include/c++/12/tr1/poly_laguerre.tcc \
 /usr/include/c++/12/tr1/riemann_zeta.tcc /usr/include/msgpack/meta.hpp \
 /usr/include/msgpack/meta_decl.hpp /usr/include/msgpack/v1/meta_decl.hpp \
 /usr/include/msgpack/v2/meta_decl.hpp \
 /usr/include/msgpack/v3/meta_decl.hpp /usr/include/msgpack/v1/meta.hpp \
 /usr/include/msgpack/adaptor/list.hpp \
 /usr/include/msgpack/v1/adaptor/list.hpp \
 /usr/include/msgpack/adaptor/map.hpp \
 /usr/include/msgpack/adaptor/map_decl.hpp \
 /usr/include/msgpack/v1/adaptor/map_decl.hpp \
 /usr/include/msgpack/v2/adaptor/map_decl.hpp \
 /usr/include/msgpack/v3/adaptor/map_decl.hpp \
 /usr/include/msgpack/v1/adaptor/map.hpp \
 /usr/include/msgpack/adaptor/nil.hpp \
 /usr/include/msgpack/adaptor/nil_decl.hpp \
 /usr/include/msgpack/v1/adaptor/nil_decl.hpp \
 /usr/include/msgpack/v2/adaptor/nil_decl.hpp \
 /usr/include/msgpack/v3/adaptor/nil_decl.hpp \
 /usr/include/msgpack/v1/adaptor/nil.hpp \
 /usr/include/msgpack/adaptor/pair.hpp \
 /usr/include/msgpack/v1/adaptor/pair.hpp \
 /usr/include/msgpack/adaptor/raw.hpp \
 /usr/include/msgpack/adaptor/raw_decl.hpp \
 /usr/include/msgpack/v1/adaptor/raw_decl.hpp \
 /usr/include/msgpack/v2/adaptor/raw_decl.hpp \
 /usr/include/msgpack/v3/adaptor/raw_decl.hpp \
 /usr/include/msgpack/v1/adaptor/raw.hpp \
 /usr/include/msgpack/adaptor/v4raw.hpp \
 /usr/include/msgpack/adaptor/v4raw_decl.hpp \
 /usr/include/msgpack/v1/adaptor/v4raw_decl.hpp \
 /usr/include/msgpack/v2/adaptor/v4raw_decl.hpp \
 /usr/include/msgpack/v3/adaptor/v4raw_decl.hpp \
 /usr/include/msgpack/v1/adaptor/v4raw.hpp \
 /usr/include/msgpack/adaptor/set.hpp \
 /usr/include/msgpack/v1/adaptor/set.hpp \
 /usr/include/msgpack/adaptor/size_equal_only.hpp \
 /usr/include/msgpack/adaptor/size_equal_only_decl.hpp \
 /usr/include/msgpack/v1/adaptor/size_equal_only_decl.hpp \
 /usr/include/msgpack/adaptor/msgpack_tuple.hpp \
 /usr/include/msgpack/adaptor/msgpack_tuple_decl.hpp \
 /usr/include/msgpack/v1/adaptor/msgpack_tuple_decl.hpp \
 /usr/include/msgpack/v1/adaptor/detail/cpp11_msgpack_tuple_decl.hpp \
 /usr/include/msgpack/v2/adaptor/msgpack_tuple_decl.hpp \
 /usr/include/msgpack/v2/adaptor/detail/cpp11_msgpack_tuple_decl.hpp \
 /usr/include/msgpack/v3/adaptor/msgpack_tuple_decl.hpp \
 /usr/include/msgpack/v3/adaptor/detail/cpp11_msgpack_tuple_decl.hpp \
 /usr/include/msgpack/v1/adaptor/msgpack_tuple.hpp \
 /usr/include/msgpack/v1/adaptor/detail/cpp11_msgpack_tuple.hpp \
 /usr/include/msgpack/v2/adaptor/size_equal_only_decl.hpp \
 /usr/include/msgpack/v3/adaptor/size_equal_only_decl.hpp \
 /usr/include/msgpack/v1/adaptor/size_equal_only.hpp \
 /usr/include/msgpack/adaptor/string.hpp \
 /usr/include/msgpack/v1/adaptor/string.hpp \
 /usr/include/msgpack/adaptor/vector.hpp \
 /usr/include/msgpack/v1/adaptor/vector.hpp \
 /usr/include/msgpack/adaptor/vector_bool.hpp \
 /usr/include/msgpack/v1/adaptor/vector_bool.hpp \
 /usr/include/msgpack/adaptor/vector_char.hpp \
 /usr/include/msgpack/v1/adaptor/vector_char.hpp \
 /usr/include/msgpack/adaptor/vector_unsigned_char.hpp \
 /usr/include/msgpack/v1/adaptor/vector_unsigned_char.hpp \
 /usr/include/msgpack/adaptor/wstring.hpp \
 /usr/include/msgpack/v1/adaptor/wstring.hpp \
 /usr/include/msgpack/adaptor/msgpack_tuple.hpp \
 /usr/include/msgpack/adaptor/define.hpp \
 /usr/include/msgpack/adaptor/define_decl.hpp \
 /usr/include/boost/preprocessor.hpp \
 /usr/include/boost/preprocessor/library.hpp \
 /usr/include/boost/preprocessor/arithmetic.hpp \
 /usr/include/boost/preprocessor/arithmetic/add.hpp \
 /usr/include/boost/preprocessor/arithmetic/dec.hpp \
 /usr/include/boost/preprocessor/config/config.hpp \
 /usr/include/boost/preprocessor/arithmetic/inc.hpp \
 /usr/include/boost/preprocessor/control/while.hpp \
 /usr/include/boost/preprocessor/cat.hpp \
 /usr/include/boost/preprocessor/debug/error.hpp \
 /usr/include/boost/preprocessor/detail/auto_rec.hpp \
 /usr/include/boost/preprocessor/control/iif.hpp \
 /usr/include/boost/preprocessor/list/fold_left.hpp \
 /usr/include/boost/preprocessor/list/detail/fold_left.hpp \
 /usr/include/boost/preprocessor/control/expr_iif.hpp \
 /usr/include/boost/preprocessor/list/adt.hpp \
 /usr/include/boost/preprocessor/detail/is_binary.hpp \
 /usr/include/boost/preprocessor/detail/check.hpp \
 /usr/include/boost/preprocessor/logical/compl.hpp \
 /usr/include/boost/preprocessor/tuple/eat.hpp \
 /usr/include/boost/preprocessor/list/fold_right.hpp \
 /usr/include/boost/preprocessor/list/detail/fold_right.hpp \
 /usr/include/boost/preprocessor/list/reverse.hpp \
 /usr/include/boost/preprocessor/logical/bitand.hpp \
 /usr/include/boost/preprocessor/control/detail/while.hpp \
 /usr/include/boost/preprocessor/logical/bool.hpp \
 /usr/include/boost/preprocessor/tuple/elem.hpp \
 /usr/include/boost/preprocessor/facilities/expand.hpp \
 /usr/include/boost/preprocessor/facilities/overload.hpp \
 /usr/include/boost/preprocessor/variadic/size.hpp \
 /usr/include/boost/preprocessor/tuple/rem.hpp \
 /usr/include/boost/preprocessor/tuple/detail/is_single_return.hpp \
 /usr/include/boost/preprocessor/variadic/elem.hpp \
 /usr/include/boost/preprocessor/arithmetic/div.hpp \
 /usr/include/boost/preprocessor/arithmetic/detail/div_base.hpp \
 /usr/include/boost/preprocessor/arithmetic/sub.hpp \
 /usr/include/boost/preprocessor/comparison/less_equal.hpp \
 /usr/include/boost/preprocessor/logical/not.hpp \
 /usr/include/boost/preprocessor/arithmetic/mod.hpp \
 /usr/include/boost/preprocessor/arithmetic/mul.hpp \
 /usr/include/boost/preprocessor/array.hpp \
 /usr/include/boost/preprocessor/array/data.hpp \
 /usr/include/boost/preprocessor/array/elem.hpp \
 /usr/include/boost/preprocessor/array/size.hpp \
 /usr/include/boost/preprocessor/array/enum.hpp \
 /usr/include/boost/preprocessor/array/insert.hpp \
 /usr/include/boost/preprocessor/array/push_back.hpp \
 /usr/include/boost/preprocessor/punctuation/comma_if.hpp \
 /usr/include/boost/preprocessor/control/if.hpp \
 /usr/include/boost/preprocessor/facilities/empty.hpp \
 /usr/include/boost/preprocessor/punctuation/comma.hpp \
 /usr/include/boost/preprocessor/array/detail/get_data.hpp \
 /usr/include/boost/preprocessor/facilities/is_1.hpp \
 /usr/include/boost/preprocessor/facilities/is_empty.hpp \
 /usr/include/boost/preprocessor/facilities/is_empty_variadic.hpp \
 /usr/include/boost/preprocessor/punctuation/is_begin_parens.hpp \
 /usr/include/boost/preprocessor/punctuation/detail/is_begin_parens.hpp \
 /usr/include/boost/preprocessor/facilities/detail/is_empty.hpp \
 /usr/include/boost/preprocessor/variadic/has_opt.hpp \
 /usr/include/boost/preprocessor/variadic/detail/has_opt.hpp \
 /usr/include/boost/preprocessor/comparison/not_equal.hpp \
 /usr/include/boost/preprocessor/control/deduce_d.hpp \
 /usr/include/boost/preprocessor/array/pop_back.hpp \
 /usr/include/boost/preprocessor/repetition/enum.hpp \
 /usr/include/boost/preprocessor/repetition/repeat.hpp \
 /usr/include/boost/preprocessor/repetition/deduce_z.hpp \
 /usr/include/boost/preprocessor/array/pop_front.hpp \
 /usr/include/boost/preprocessor/array/push_front.hpp \
 /usr/include/boost/preprocessor/array/remove.hpp \
 /usr/include/boost/preprocessor/array/replace.hpp \
 /usr/include/boost/preprocessor/array/reverse.hpp \
 /usr/include/boost/preprocessor/tuple/reverse.hpp \
 /usr/include/boost/preprocessor/tuple/size.hpp \
 /usr/include/boost/preprocessor/array/to_list.hpp \
 /usr/include/boost/preprocessor/tuple/to_list.hpp \
 /usr/include/boost/preprocessor/array/to_seq.hpp \
 /usr/include/boost/preprocessor/tuple/to_seq.hpp \
 /usr/include/boost/preprocessor/array/to_tuple.hpp \
 /usr/include/boost/preprocessor/comparison.hpp \
 /usr/include/boost/preprocessor/comparison/equal.hpp \
 /usr/include/boost/preprocessor/comparison/greater.hpp \
 /usr/include/boost/preprocessor/comparison/less.hpp \
 /usr/include/boost/preprocessor/comparison/greater_equal.hpp \
 /usr/include/boost/preprocessor/config/limits.hpp \
 /usr/include/boost/preprocessor/control.hpp \
 /usr/include/boost/preprocessor/control/expr_if.hpp \
 /usr/include/boost/preprocessor/debug.hpp \
 /usr/include/boost/preprocessor/debug/assert.hpp \
 /usr/include/boost/preprocessor/debug/line.hpp \
 /usr/include/boost/preprocessor/iteration/iterate.hpp \
 /usr/include/boost/preprocessor/slot/slot.hpp \
 /usr/include/boost/preprocessor/slot/detail/def.hpp \
 /usr/include/boost/preprocessor/stringize.hpp \
 /usr/include/boost/preprocessor/facilities.hpp \
 /usr/include/boost/preprocessor/facilities/apply.hpp \
 /usr/include/boost/preprocessor/detail/is_unary.hpp \
 /usr/include/boost/preprocessor/facilities/check_empty.hpp \
 /usr/include/boost/preprocessor/facilities/identity.hpp \
 /usr/include/boost/preprocessor/facilities/intercept.hpp \
 /usr/include/boost/preprocessor/facilities/va_opt.hpp \
 /usr/include/boost/preprocessor/iteration.hpp \
 /usr/include/boost/preprocessor/iteration/local.hpp \
 /usr/include/boost/preprocessor/iteration/self.hpp \
 /usr/include/boost/preprocessor/list.hpp \
 /usr/include/boost/preprocessor/list/append.hpp \
 /usr/include/boost/preprocessor/list/at.hpp \
 /usr/include/boost/preprocessor/list/rest_n.hpp \
 /usr/include/boost/preprocessor/list/cat.hpp \
 /usr/include/boost/preprocessor/list/enum.hpp \
 /usr/include/boost/preprocessor/list/for_each_i.hpp \
 /usr/include/boost/preprocessor/repetition/for.hpp \
 /usr/include/boost/preprocessor/repetition/detail/for.hpp \
 /usr/include/boost/preprocessor/list/filter.hpp \
 /usr/include/boost/preprocessor/list/first_n.hpp \
 /usr/include/boost/preprocessor/list/for_each.hpp \
 /usr/include/boost/preprocessor/list/for_each_product.hpp \
 /usr/include/boost/preprocessor/list/to_tuple.hpp \
 /usr/include/boost/preprocessor/list/size.hpp \
 /usr/include/boost/preprocessor/list/to_array.hpp \
 /usr/include/boost/preprocessor/list/to_seq.hpp \
 /usr/include/boost/preprocessor/list/transform.hpp \
 /usr/include/boost/preprocessor/logical.hpp \
 /usr/include/boost/preprocessor/logical/and.hpp \
 /usr/include/boost/preprocessor/logical/bitnor.hpp \
 /usr/include/boost/preprocessor/logical/bitor.hpp \
 /usr/include/boost/preprocessor/logical/bitxor.hpp \
 /usr/include/boost/preprocessor/logical/nor.hpp \
 /usr/include/boost/preprocessor/logical/or.hpp \
 /usr/include/boost/preprocessor/logical/xor.hpp \
 /usr/include/boost/preprocessor/punctuation.hpp \
 /usr/include/boost/preprocessor/punctuation/paren.hpp \
 /usr/include/boost/preprocessor/punctuation/paren_if.hpp \
 /usr/include/boost/preprocessor/punctuation/remove_parens.hpp \
 /usr/include/boost/preprocessor/tuple/enum.hpp \
 /usr/include/boost/preprocessor/repetition.hpp \
 /usr/include/boost/preprocessor/repetition/deduce_r.hpp \
 /usr/include/boost/preprocessor/repetition/enum_binary_params.hpp \
 /usr/include/boost/preprocessor/repetition/enum_params.hpp \
 /usr/include/boost/preprocessor/repetition/enum_params_with_a_default.hpp \
 /usr/include/boost/preprocessor/repetition/enum_params_with_defaults.hpp \
 /usr/include/boost/preprocessor/repetition/enum_shifted.hpp \
 /usr/include/boost/preprocessor/repetition/enum_shifted_binary_params.hpp \
 /usr/include/boost/preprocessor/repetition/enum_shifted_params.hpp \
 /usr/include/boost/preprocessor/repetition/enum_trailing.hpp \
 /usr/include/boost/preprocessor/repetition/enum_trailing_binary_params.hpp \
 /usr/include/boost/preprocessor/repetition/enum_trailing_params.hpp \
 /usr/include/boost/preprocessor/repetition/repeat_from_to.hpp \
 /usr/include/boost/preprocessor/selection.hpp \
 /usr/include/boost/preprocessor/selection/max.hpp \
 /usr/include/boost/preprocessor/selection/min.hpp \
 /usr/include/boost/preprocessor/seq.hpp \
 /usr/include/boost/preprocessor/seq/cat.hpp \
 /usr/include/boost/preprocessor/seq/fold_left.hpp \
 /usr/include/boost/preprocessor/seq/seq.hpp \
 /usr/include/boost/preprocessor/seq/elem.hpp \
 /usr/include/boost/preprocessor/seq/size.hpp \
 /usr/include/boost/preprocessor/seq/enum.hpp \
 /usr/include/boost/preprocessor/seq/filter.hpp \
 /usr/include/boost/preprocessor/seq/first_n.hpp \
 /usr/include/boost/preprocessor/seq/detail/split.hpp \
 /usr/include/boost/preprocessor/seq/fold_right.hpp \
 /usr/include/boost/preprocessor/seq/reverse.hpp \
 /usr/include/boost/preprocessor/seq/for_each.hpp \
 /usr/include/boost/preprocessor/seq/detail/is_empty.hpp \
 /usr/include/boost/preprocessor/seq/for_each_i.hpp \
 /usr/include/boost/preprocessor/seq/for_each_product.hpp \
 /usr/include/boost/preprocessor/seq/insert.hpp \
 /usr/include/boost/preprocessor/seq/rest_n.hpp \
 /usr/include/boost/preprocessor/seq/pop_back.hpp \
 /usr/include/boost/preprocessor/seq/pop_front.hpp \
 /usr/include/boost/preprocessor/seq/push_back.hpp \
 /usr/include/boost/preprocessor/seq/push_front.hpp \
 /usr/include/boost/preprocessor/seq/remove.hpp \
 /usr/include/boost/preprocessor/seq/replace.hpp \
 /usr/include/boost/preprocessor/seq/subseq.hpp \
 /usr/include/boost/preprocessor/seq/to_array.hpp \
 /usr/include/boost/preprocessor/seq/to_list.hpp \
 /usr/include/boost/preprocessor/seq/detail/binary_transform.hpp \
 /usr/include/boost/preprocessor/variadic/detail/is_single_return.hpp \
 /usr/include/boost/preprocessor/seq/to_tuple.hpp \
 /usr/include/boost/preprocessor/seq/transform.hpp \
 /usr/include/boost/preprocessor/seq/variadic_seq_to_seq.hpp \
 /usr/include/boost/preprocessor/slot.hpp \
 /usr/include/boost/preprocessor/tuple.hpp \
 /usr/include/boost/preprocessor/tuple/insert.hpp \
 /usr/include/boost/preprocessor/tuple/to_array.hpp \
 /usr/include/boost/preprocessor/tuple/pop_back.hpp \
 /usr/include/boost/preprocessor/tuple/pop_front.hpp \
 /usr/include/boost/preprocessor/tuple/push_back.hpp \
 /usr/include/boost/preprocessor/tuple/push_front.hpp \
 /usr/include/boost/preprocessor/tuple/remove.hpp \
 /usr/include/boost/preprocessor/tuple/replace.hpp \
 /usr/include/boost/preprocessor/variadic.hpp \
 /usr/include/boost/preprocessor/variadic/to_array.hpp \
 /usr/include/boost/preprocessor/variadic/to_list.hpp \
 /usr/include/boost/preprocessor/variadic/to_seq.hpp \
 /usr/include/boost/preprocessor/variadic/to_tuple.hpp \
 /usr/include/boost/preprocessor/wstringize.hpp \
 /usr/include/msgpack/v1/adaptor/define_decl.hpp \
 /usr/include/msgpack/v1/adaptor/detail/cpp11_define_array_decl.hpp \
 /usr/include/msgpack/v1/adaptor/detail/cpp11_define_map_decl.hpp \
 /usr/include/msgpack/v2/adaptor/define_decl.hpp \
 /usr/include/msgpack/v2/adaptor/detail/cpp11_define_array_decl.hpp \
 /usr/include/msgpack/v2/adaptor/detail/cpp11_define_map_decl.hpp \
 /usr/include/msgpack/v3/adaptor/define_decl.hpp \
 /usr/include/msgpack/v3/adaptor/detail/cpp11_define_array_decl.hpp \
 /usr/include/msgpack/v3/adaptor/detail/cpp11_define_map_decl.hpp \
 /usr/include/msgpack/v1/adaptor/define.hpp \
 /usr/include/msgpack/v1/adaptor/detail/cpp11_define_array.hpp \
 /usr/include/msgpack/v1/adaptor/detail/cpp11_convert_helper.hpp \
 /usr/include/msgpack/v1/adaptor/detail/cpp11_define_map.hpp \
 /usr/include/msgpack/adaptor/cpp11/array.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/array.hpp \
 /usr/include/msgpack/adaptor/cpp11/array_char.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/array_char.hpp \
 /usr/include/msgpack/adaptor/cpp11/array_unsigned_char.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/array_unsigned_char.hpp \
 /usr/include/msgpack/adaptor/cpp11/chrono.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/chrono.hpp \
 /usr/include/c++/12/chrono \
 /usr/include/boost/numeric/conversion/cast.hpp \
 /usr/include/boost/detail/workaround.hpp \
 /usr/include/boost/config/workaround.hpp /usr/include/boost/config.hpp \
 /usr/include/boost/config/user.hpp \
 /usr/include/boost/config/detail/select_compiler_config.hpp \
 /usr/include/boost/config/compiler/gcc.hpp \
 /usr/include/boost/config/detail/select_stdlib_config.hpp \
 /usr/include/c++/12/version \
 /usr/include/boost/config/stdlib/libstdcpp3.hpp \
 /usr/include/boost/config/detail/select_platform_config.hpp \
 /usr/include/boost/config/platform/linux.hpp \
 /usr/include/boost/config/detail/posix_features.hpp \
 /usr/include/boost/config/detail/suffix.hpp \
 /usr/include/boost/config/helper_macros.hpp /usr/include/boost/type.hpp \
 /usr/include/boost/numeric/conversion/converter.hpp \
 /usr/include/boost/numeric/conversion/conversion_traits.hpp \
 /usr/include/boost/numeric/conversion/detail/conversion_traits.hpp \
 /usr/include/boost/type_traits/is_arithmetic.hpp \
 /usr/include/boost/type_traits/is_integral.hpp \
 /usr/include/boost/type_traits/integral_constant.hpp \
 /usr/include/boost/type_traits/is_floating_point.hpp \
 /usr/include/boost/type_traits/is_same.hpp \
 /usr/include/boost/type_traits/remove_cv.hpp \
 /usr/include/boost/numeric/conversion/detail/meta.hpp \
 /usr/include/boost/mpl/if.hpp /usr/include/boost/mpl/aux_/value_wknd.hpp \
 /usr/include/boost/mpl/aux_/static_cast.hpp \
 /usr/include/boost/mpl/aux_/config/workaround.hpp \
 /usr/include/boost/mpl/aux_/config/integral.hpp \
 /usr/include/boost/mpl/aux_/config/msvc.hpp \
 /usr/include/boost/mpl/aux_/config/eti.hpp \
 /usr/include/boost/mpl/aux_/na_spec.hpp \
 /usr/include/boost/mpl/lambda_fwd.hpp \
 /usr/include/boost/mpl/void_fwd.hpp \
 /usr/include/boost/mpl/aux_/adl_barrier.hpp \
 /usr/include/boost/mpl/aux_/config/adl.hpp \
 /usr/include/boost/mpl/aux_/config/intel.hpp \
 /usr/include/boost/mpl/aux_/config/gcc.hpp \
 /usr/include/boost/mpl/aux_/na.hpp /usr/include/boost/mpl/bool.hpp \
 /usr/include/boost/mpl/bool_fwd.hpp \
 /usr/include/boost/mpl/integral_c_tag.hpp \
 /usr/include/boost/mpl/aux_/config/static_constant.hpp \
 /usr/include/boost/mpl/aux_/na_fwd.hpp \
 /usr/include/boost/mpl/aux_/config/ctps.hpp \
 /usr/include/boost/mpl/aux_/config/lambda.hpp \
 /usr/include/boost/mpl/aux_/config/ttp.hpp \
 /usr/include/boost/mpl/int.hpp /usr/include/boost/mpl/int_fwd.hpp \
 /usr/include/boost/mpl/aux_/nttp_decl.hpp \
 /usr/include/boost/mpl/aux_/config/nttp.hpp \
 /usr/include/boost/mpl/aux_/integral_wrapper.hpp \
 /usr/include/boost/mpl/aux_/lambda_arity_param.hpp \
 /usr/include/boost/mpl/aux_/template_arity_fwd.hpp \
 /usr/include/boost/mpl/aux_/arity.hpp \
 /usr/include/boost/mpl/aux_/config/dtp.hpp \
 /usr/include/boost/mpl/aux_/preprocessor/params.hpp \
 /usr/include/boost/mpl/aux_/config/preprocessor.hpp \
 /usr/include/boost/preprocessor/comma_if.hpp \
 /usr/include/boost/preprocessor/repeat.hpp \
 /usr/include/boost/preprocessor/inc.hpp \
 /usr/include/boost/mpl/aux_/preprocessor/enum.hpp \
 /usr/include/boost/mpl/aux_/preprocessor/def_params_tail.hpp \
 /usr/include/boost/mpl/limits/arity.hpp \
 /usr/include/boost/preprocessor/identity.hpp \
 /usr/include/boost/preprocessor/empty.hpp \
 /usr/include/boost/mpl/aux_/config/overload_resolution.hpp \
 /usr/include/boost/mpl/aux_/lambda_support.hpp \
 /usr/include/boost/mpl/eval_if.hpp /usr/include/boost/mpl/equal_to.hpp \
 /usr/include/boost/mpl/aux_/comparison_op.hpp \
 /usr/include/boost/mpl/aux_/numeric_op.hpp \
 /usr/include/boost/mpl/numeric_cast.hpp \
 /usr/include/boost/mpl/apply_wrap.hpp \
 /usr/include/boost/mpl/aux_/has_apply.hpp \
 /usr/include/boost/mpl/has_xxx.hpp \
 /usr/include/boost/mpl/aux_/type_wrapper.hpp \
 /usr/include/boost/mpl/aux_/yes_no.hpp \
 /usr/include/boost/mpl/aux_/config/arrays.hpp \
 /usr/include/boost/mpl/aux_/config/has_xxx.hpp \
 /usr/include/boost/mpl/aux_/config/msvc_typename.hpp \
 /usr/include/boost/mpl/aux_/config/has_apply.hpp \
 /usr/include/boost/mpl/aux_/msvc_never_true.hpp \
 /usr/include/boost/mpl/aux_/config/use_preprocessed.hpp \
 /usr/include/boost/mpl/aux_/include_preprocessed.hpp \
 /usr/include/boost/mpl/aux_/config/compiler.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/apply_wrap.hpp \
 /usr/include/boost/mpl/tag.hpp /usr/include/boost/mpl/void.hpp \
 /usr/include/boost/mpl/aux_/has_tag.hpp \
 /usr/include/boost/mpl/aux_/numeric_cast_utils.hpp \
 /usr/include/boost/mpl/aux_/config/forwarding.hpp \
 /usr/include/boost/mpl/aux_/msvc_eti_base.hpp \
 /usr/include/boost/mpl/aux_/is_msvc_eti_arg.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/equal_to.hpp \
 /usr/include/boost/mpl/not.hpp \
 /usr/include/boost/mpl/aux_/nested_type_wknd.hpp \
 /usr/include/boost/mpl/and.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/and.hpp \
 /usr/include/boost/mpl/identity.hpp \
 /usr/include/boost/numeric/conversion/detail/int_float_mixture.hpp \
 /usr/include/boost/limits.hpp \
 /usr/include/boost/numeric/conversion/int_float_mixture_enum.hpp \
 /usr/include/boost/mpl/integral_c.hpp \
 /usr/include/boost/mpl/integral_c_fwd.hpp \
 /usr/include/boost/numeric/conversion/detail/sign_mixture.hpp \
 /usr/include/boost/numeric/conversion/sign_mixture_enum.hpp \
 /usr/include/boost/numeric/conversion/detail/udt_builtin_mixture.hpp \
 /usr/include/boost/numeric/conversion/udt_builtin_mixture_enum.hpp \
 /usr/include/boost/numeric/conversion/detail/is_subranged.hpp \
 /usr/include/boost/mpl/multiplies.hpp /usr/include/boost/mpl/times.hpp \
 /usr/include/boost/mpl/aux_/arithmetic_op.hpp \
 /usr/include/boost/mpl/aux_/largest_int.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/times.hpp \
 /usr/include/boost/mpl/aux_/preprocessor/default_params.hpp \
 /usr/include/boost/mpl/less.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/less.hpp \
 /usr/include/boost/numeric/conversion/converter_policies.hpp \
 /usr/include/boost/config/no_tr1/cmath.hpp \
 /usr/include/boost/throw_exception.hpp \
 /usr/include/boost/assert/source_location.hpp \
 /usr/include/boost/current_function.hpp /usr/include/boost/cstdint.hpp \
 /usr/include/boost/exception/exception.hpp \
 /usr/include/c++/12/functional /usr/include/c++/12/bits/std_function.h \
 /usr/include/boost/numeric/conversion/detail/converter.hpp \
 /usr/include/boost/numeric/conversion/bounds.hpp \
 /usr/include/boost/numeric/conversion/detail/bounds.hpp \
 /usr/include/boost/numeric/conversion/numeric_cast_traits.hpp \
 /usr/include/boost/numeric/conversion/detail/numeric_cast_traits.hpp \
 /usr/include/boost/numeric/conversion/detail/preprocessed/numeric_cast_traits_common.hpp \
 /usr/include/boost/numeric/conversion/detail/preprocessed/numeric_cast_traits_long_long.hpp \
 /usr/include/msgpack/adaptor/cpp11/forward_list.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/forward_list.hpp \
 /usr/include/c++/12/forward_list /usr/include/c++/12/bits/forward_list.h \
 /usr/include/c++/12/bits/forward_list.tcc \
 /usr/include/msgpack/adaptor/cpp11/reference_wrapper.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/reference_wrapper.hpp \
 /usr/include/msgpack/adaptor/cpp11/shared_ptr.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/shared_ptr.hpp \
 /usr/include/msgpack/adaptor/cpp11/timespec.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/timespec.hpp \
 /usr/include/msgpack/adaptor/cpp11/tuple.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/tuple.hpp \
 /usr/include/msgpack/adaptor/cpp11/unique_ptr.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/unique_ptr.hpp \
 /usr/include/msgpack/adaptor/cpp11/unordered_map.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/unordered_map.hpp \
 /usr/include/msgpack/adaptor/cpp11/unordered_set.hpp \
 /usr/include/msgpack/v1/adaptor/cpp11/unordered_set.hpp \
 /usr/include/msgpack/adaptor/cpp17/optional.hpp \
 /usr/include/msgpack/v1/adaptor/cpp17/optional.hpp \
 /usr/include/msgpack/adaptor/cpp17/string_view.hpp \
 /usr/include/msgpack/v1/adaptor/cpp17/string_view.hpp \
 /usr/include/msgpack/adaptor/cpp17/array_byte.hpp \
 /usr/include/msgpack/v1/adaptor/cpp17/array_byte.hpp \
 /usr/include/msgpack/adaptor/cpp17/byte.hpp \
 /usr/include/msgpack/v1/adaptor/cpp17/byte.hpp \
 /usr/include/msgpack/adaptor/cpp17/carray_byte.hpp \
 /usr/include/msgpack/v1/adaptor/cpp17/carray_byte.hpp \
 /usr/include/msgpack/adaptor/cpp17/vector_byte.hpp \
 /usr/include/msgpack/v1/adaptor/cpp17/vector_byte.hpp \
 /usr/include/msgpack/adaptor/cpp20/span.hpp \
 /usr/include/msgpack/v1/adaptor/cpp20/span.hpp /usr/include/c++/12/span \
 /usr/include/msgpack/adaptor/boost/fusion.hpp \
 /usr/include/msgpack/v1/adaptor/boost/fusion.hpp \
 /usr/include/msgpack/adaptor/pair.hpp \
 /usr/include/msgpack/adaptor/cpp11/tuple.hpp \
 /usr/include/boost/fusion/support/is_sequence.hpp \
 /usr/include/boost/fusion/support/config.hpp \
 /usr/include/boost/fusion/support/sequence_base.hpp \
 /usr/include/boost/mpl/begin_end_fwd.hpp \
 /usr/include/boost/fusion/support/tag_of.hpp \
 /usr/include/boost/utility/enable_if.hpp \
 /usr/include/boost/core/enable_if.hpp \
 /usr/include/boost/type_traits/remove_const.hpp \
 /usr/include/boost/fusion/support/tag_of_fwd.hpp \
 /usr/include/boost/fusion/support/detail/is_mpl_sequence.hpp \
 /usr/include/boost/fusion/support/detail/is_native_fusion_sequence.hpp \
 /usr/include/boost/type_traits/is_complete.hpp \
 /usr/include/boost/type_traits/declval.hpp \
 /usr/include/boost/type_traits/add_rvalue_reference.hpp \
 /usr/include/boost/type_traits/is_void.hpp \
 /usr/include/boost/type_traits/is_reference.hpp \
 /usr/include/boost/type_traits/is_lvalue_reference.hpp \
 /usr/include/boost/type_traits/is_rvalue_reference.hpp \
 /usr/include/boost/type_traits/remove_reference.hpp \
 /usr/include/boost/type_traits/is_function.hpp \
 /usr/include/boost/type_traits/detail/config.hpp \
 /usr/include/boost/version.hpp \
 /usr/include/boost/type_traits/detail/is_function_cxx_11.hpp \
 /usr/include/boost/type_traits/detail/yes_no_type.hpp \
 /usr/include/boost/type_traits/is_convertible.hpp \
 /usr/include/boost/type_traits/intrinsics.hpp \
 /usr/include/boost/type_traits/is_array.hpp \
 /usr/include/boost/static_assert.hpp \
 /usr/include/boost/type_traits/is_abstract.hpp \
 /usr/include/boost/type_traits/add_lvalue_reference.hpp \
 /usr/include/boost/type_traits/add_reference.hpp \
 /usr/include/boost/mpl/is_sequence.hpp \
 /usr/include/boost/mpl/begin_end.hpp \
 /usr/include/boost/mpl/aux_/begin_end_impl.hpp \
 /usr/include/boost/mpl/sequence_tag_fwd.hpp \
 /usr/include/boost/mpl/aux_/has_begin.hpp \
 /usr/include/boost/mpl/aux_/traits_lambda_spec.hpp \
 /usr/include/boost/mpl/sequence_tag.hpp \
 /usr/include/boost/mpl/assert.hpp \
 /usr/include/boost/mpl/aux_/config/gpu.hpp \
 /usr/include/boost/mpl/aux_/config/pp_counter.hpp \
 /usr/include/boost/config/no_tr1/utility.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/size.hpp \
 /usr/include/boost/fusion/sequence/intrinsic_fwd.hpp \
 /usr/include/boost/type_traits/is_const.hpp \
 /usr/include/boost/fusion/support/is_segmented.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/detail/segmented_size.hpp \
 /usr/include/boost/type_traits/add_const.hpp \
 /usr/include/boost/mpl/fold.hpp /usr/include/boost/mpl/O1_size.hpp \
 /usr/include/boost/mpl/O1_size_fwd.hpp \
 /usr/include/boost/mpl/aux_/O1_size_impl.hpp \
 /usr/include/boost/mpl/long.hpp /usr/include/boost/mpl/long_fwd.hpp \
 /usr/include/boost/mpl/aux_/has_size.hpp \
 /usr/include/boost/mpl/aux_/fold_impl.hpp \
 /usr/include/boost/mpl/next_prior.hpp \
 /usr/include/boost/mpl/aux_/common_name_wknd.hpp \
 /usr/include/boost/mpl/apply.hpp /usr/include/boost/mpl/apply_fwd.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/apply_fwd.hpp \
 /usr/include/boost/mpl/placeholders.hpp /usr/include/boost/mpl/arg.hpp \
 /usr/include/boost/mpl/arg_fwd.hpp \
 /usr/include/boost/mpl/aux_/na_assert.hpp \
 /usr/include/boost/mpl/aux_/arity_spec.hpp \
 /usr/include/boost/mpl/aux_/arg_typedef.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/arg.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/placeholders.hpp \
 /usr/include/boost/mpl/lambda.hpp /usr/include/boost/mpl/bind.hpp \
 /usr/include/boost/mpl/bind_fwd.hpp \
 /usr/include/boost/mpl/aux_/config/bind.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/bind_fwd.hpp \
 /usr/include/boost/mpl/next.hpp /usr/include/boost/mpl/protect.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/bind.hpp \
 /usr/include/boost/mpl/aux_/full_lambda.hpp \
 /usr/include/boost/mpl/quote.hpp \
 /usr/include/boost/mpl/aux_/has_type.hpp \
 /usr/include/boost/mpl/aux_/config/bcc.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/quote.hpp \
 /usr/include/boost/mpl/aux_/template_arity.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/template_arity.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/full_lambda.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/apply.hpp \
 /usr/include/boost/mpl/deref.hpp \
 /usr/include/boost/mpl/aux_/msvc_type.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/fold_impl.hpp \
 /usr/include/boost/mpl/plus.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/plus.hpp \
 /usr/include/boost/mpl/size_t.hpp /usr/include/boost/mpl/size_t_fwd.hpp \
 /usr/include/boost/fusion/mpl/begin.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/begin.hpp \
 /usr/include/boost/mpl/empty_base.hpp \
 /usr/include/boost/type_traits/is_empty.hpp \
 /usr/include/boost/type_traits/is_class.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/detail/segmented_begin.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/detail/segmented_begin_impl.hpp \
 /usr/include/boost/fusion/container/list/cons_fwd.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/detail/segmented_end_impl.hpp \
 /usr/include/boost/fusion/support/detail/segmented_fold_until_impl.hpp \
 /usr/include/boost/utility/result_of.hpp \
 /usr/include/boost/type_traits/is_pointer.hpp \
 /usr/include/boost/type_traits/is_member_function_pointer.hpp \
 /usr/include/boost/type_traits/detail/is_member_function_pointer_cxx_11.hpp \
 /usr/include/boost/type_traits/conditional.hpp \
 /usr/include/boost/type_traits/type_identity.hpp \
 /usr/include/boost/preprocessor/iteration/detail/iter/forward1.hpp \
 /usr/include/boost/preprocessor/iteration/detail/bounds/lower1.hpp \
 /usr/include/boost/preprocessor/slot/detail/shared.hpp \
 /usr/include/boost/preprocessor/iteration/detail/bounds/upper1.hpp \
 /usr/include/boost/utility/detail/result_of_iterate.hpp \
 /usr/include/boost/fusion/support/void.hpp \
 /usr/include/boost/fusion/iterator/equal_to.hpp \
 /usr/include/boost/fusion/support/is_iterator.hpp \
 /usr/include/boost/type_traits/is_base_of.hpp \
 /usr/include/boost/type_traits/is_base_and_derived.hpp \
 /usr/include/boost/fusion/iterator/deref.hpp \
 /usr/include/boost/fusion/support/iterator_base.hpp \
 /usr/include/boost/fusion/iterator/next.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/segments.hpp \
 /usr/include/boost/fusion/iterator/segmented_iterator.hpp \
 /usr/include/boost/fusion/iterator/detail/segmented_iterator.hpp \
 /usr/include/boost/fusion/iterator/iterator_facade.hpp \
 /usr/include/boost/fusion/iterator/detail/advance.hpp \
 /usr/include/boost/fusion/iterator/prior.hpp \
 /usr/include/boost/fusion/iterator/detail/distance.hpp \
 /usr/include/boost/fusion/support/category_of.hpp \
 /usr/include/boost/fusion/iterator/deref_data.hpp \
 /usr/include/boost/fusion/iterator/key_of.hpp \
 /usr/include/boost/fusion/iterator/value_of.hpp \
 /usr/include/boost/fusion/iterator/value_of_data.hpp \
 /usr/include/boost/fusion/iterator/detail/segmented_equal_to.hpp \
 /usr/include/boost/fusion/iterator/detail/segmented_next_impl.hpp \
 /usr/include/boost/fusion/container/list/cons.hpp \
 /usr/include/boost/fusion/support/detail/enabler.hpp \
 /usr/include/boost/fusion/support/detail/access.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/end.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/detail/segmented_end.hpp \
 /usr/include/boost/fusion/container/list/nil.hpp \
 /usr/include/boost/fusion/container/list/cons_iterator.hpp \
 /usr/include/boost/fusion/container/list/detail/deref_impl.hpp \
 /usr/include/boost/fusion/container/list/detail/next_impl.hpp \
 /usr/include/boost/fusion/container/list/detail/value_of_impl.hpp \
 /usr/include/boost/fusion/container/list/detail/equal_to_impl.hpp \
 /usr/include/boost/fusion/container/list/list_fwd.hpp \
 /usr/include/boost/fusion/container/list/detail/begin_impl.hpp \
 /usr/include/boost/fusion/container/list/detail/end_impl.hpp \
 /usr/include/boost/fusion/container/list/detail/at_impl.hpp \
 /usr/include/boost/fusion/container/list/detail/value_at_impl.hpp \
 /usr/include/boost/fusion/container/list/detail/empty_impl.hpp \
 /usr/include/boost/fusion/view/iterator_range.hpp \
 /usr/include/boost/fusion/view/iterator_range/iterator_range.hpp \
 /usr/include/boost/fusion/iterator/distance.hpp \
 /usr/include/boost/fusion/iterator/mpl/convert_iterator.hpp \
 /usr/include/boost/fusion/view/iterator_range/detail/begin_impl.hpp \
 /usr/include/boost/fusion/view/iterator_range/detail/end_impl.hpp \
 /usr/include/boost/fusion/view/iterator_range/detail/at_impl.hpp \
 /usr/include/boost/fusion/iterator/advance.hpp \
 /usr/include/boost/fusion/view/iterator_range/detail/size_impl.hpp \
 /usr/include/boost/fusion/view/iterator_range/detail/value_at_impl.hpp \
 /usr/include/boost/fusion/view/iterator_range/detail/is_segmented_impl.hpp \
 /usr/include/boost/fusion/view/iterator_range/detail/segments_impl.hpp \
 /usr/include/boost/fusion/view/iterator_range/detail/segmented_iterator_range.hpp \
 /usr/include/boost/fusion/algorithm/transformation/push_back.hpp \
 /usr/include/boost/fusion/support/detail/as_fusion_element.hpp \
 /usr/include/boost/ref.hpp /usr/include/boost/core/ref.hpp \
 /usr/include/boost/core/addressof.hpp \
 /usr/include/boost/fusion/view/joint_view/joint_view.hpp \
 /usr/include/boost/fusion/view/joint_view/joint_view_fwd.hpp \
 /usr/include/boost/fusion/support/is_view.hpp \
 /usr/include/boost/fusion/view/joint_view/joint_view_iterator.hpp \
 /usr/include/boost/fusion/adapted/mpl/mpl_iterator.hpp \
 /usr/include/boost/fusion/support/detail/mpl_iterator_category.hpp \
 /usr/include/boost/mpl/prior.hpp /usr/include/boost/mpl/advance.hpp \
 /usr/include/boost/mpl/advance_fwd.hpp /usr/include/boost/mpl/negate.hpp \
 /usr/include/boost/mpl/aux_/advance_forward.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/advance_forward.hpp \
 /usr/include/boost/mpl/aux_/advance_backward.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/advance_backward.hpp \
 /usr/include/boost/mpl/distance.hpp \
 /usr/include/boost/mpl/distance_fwd.hpp \
 /usr/include/boost/mpl/iter_fold.hpp \
 /usr/include/boost/mpl/aux_/iter_fold_impl.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/iter_fold_impl.hpp \
 /usr/include/boost/mpl/iterator_range.hpp \
 /usr/include/boost/fusion/view/joint_view/detail/deref_impl.hpp \
 /usr/include/boost/fusion/iterator/detail/adapt_deref_traits.hpp \
 /usr/include/boost/fusion/view/joint_view/detail/next_impl.hpp \
 /usr/include/boost/fusion/view/joint_view/detail/value_of_impl.hpp \
 /usr/include/boost/fusion/iterator/detail/adapt_value_traits.hpp \
 /usr/include/boost/fusion/view/joint_view/detail/deref_data_impl.hpp \
 /usr/include/boost/fusion/view/joint_view/detail/value_of_data_impl.hpp \
 /usr/include/boost/fusion/view/joint_view/detail/key_of_impl.hpp \
 /usr/include/boost/fusion/view/joint_view/detail/begin_impl.hpp \
 /usr/include/boost/fusion/view/joint_view/detail/end_impl.hpp \
 /usr/include/boost/mpl/inherit.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/inherit.hpp \
 /usr/include/boost/fusion/view/single_view/single_view.hpp \
 /usr/include/boost/fusion/view/single_view/single_view_iterator.hpp \
 /usr/include/boost/fusion/view/single_view/detail/deref_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/next_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/prior_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/advance_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/distance_impl.hpp \
 /usr/include/boost/mpl/minus.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/minus.hpp \
 /usr/include/boost/fusion/view/single_view/detail/equal_to_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/value_of_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/at_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/begin_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/end_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/size_impl.hpp \
 /usr/include/boost/fusion/view/single_view/detail/value_at_impl.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/value_at.hpp \
 /usr/include/boost/mpl/or.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/or.hpp \
 /usr/include/boost/fusion/algorithm/transformation/push_front.hpp \
 /usr/include/boost/fusion/container/list/detail/reverse_cons.hpp \
 /usr/include/boost/fusion/iterator/detail/segment_sequence.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/empty.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/begin_impl.hpp \
 /usr/include/boost/mpl/begin.hpp \
 /usr/include/boost/fusion/iterator/mpl/fusion_iterator.hpp \
 /usr/include/boost/mpl/iterator_tags.hpp \
 /usr/include/boost/fusion/mpl/end.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/end_impl.hpp \
 /usr/include/boost/mpl/end.hpp \
 /usr/include/boost/fusion/algorithm/iteration/for_each.hpp \
 /usr/include/boost/fusion/algorithm/iteration/detail/for_each.hpp \
 /usr/include/boost/fusion/algorithm/iteration/detail/segmented_for_each.hpp \
 /usr/include/boost/fusion/algorithm/iteration/for_each_fwd.hpp \
 /usr/include/boost/fusion/support/segmented_fold_until.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/at.hpp \
 /usr/include/boost/fusion/include/mpl.hpp \
 /usr/include/boost/fusion/adapted/mpl.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/is_sequence_impl.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/size_impl.hpp \
 /usr/include/boost/mpl/size.hpp /usr/include/boost/mpl/size_fwd.hpp \
 /usr/include/boost/mpl/aux_/size_impl.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/value_at_impl.hpp \
 /usr/include/boost/mpl/at.hpp /usr/include/boost/mpl/at_fwd.hpp \
 /usr/include/boost/mpl/aux_/at_impl.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/at_impl.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/has_key_impl.hpp \
 /usr/include/boost/mpl/has_key.hpp \
 /usr/include/boost/mpl/has_key_fwd.hpp \
 /usr/include/boost/mpl/aux_/has_key_impl.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/category_of_impl.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/is_view_impl.hpp \
 /usr/include/boost/fusion/adapted/mpl/detail/empty_impl.hpp \
 /usr/include/boost/mpl/empty.hpp /usr/include/boost/mpl/empty_fwd.hpp \
 /usr/include/boost/mpl/aux_/empty_impl.hpp \
 /usr/include/boost/fusion/mpl.hpp \
 /usr/include/boost/fusion/iterator/mpl.hpp \
 /usr/include/boost/fusion/mpl/at.hpp \
 /usr/include/boost/fusion/mpl/back.hpp /usr/include/boost/mpl/back.hpp \
 /usr/include/boost/mpl/back_fwd.hpp \
 /usr/include/boost/mpl/aux_/back_impl.hpp \
 /usr/include/boost/fusion/mpl/clear.hpp /usr/include/boost/mpl/clear.hpp \
 /usr/include/boost/mpl/clear_fwd.hpp \
 /usr/include/boost/mpl/aux_/clear_impl.hpp \
 /usr/include/boost/fusion/mpl/detail/clear.hpp \
 /usr/include/boost/fusion/container/vector/vector_fwd.hpp \
 /usr/include/boost/fusion/container/vector/detail/config.hpp \
 /usr/include/boost/fusion/container/map/map_fwd.hpp \
 /usr/include/boost/fusion/container/set/set_fwd.hpp \
 /usr/include/boost/fusion/container/deque/deque_fwd.hpp \
 /usr/include/boost/fusion/mpl/empty.hpp \
 /usr/include/boost/fusion/mpl/erase.hpp /usr/include/boost/mpl/erase.hpp \
 /usr/include/boost/mpl/erase_fwd.hpp \
 /usr/include/boost/mpl/aux_/erase_impl.hpp \
 /usr/include/boost/mpl/push_front.hpp \
 /usr/include/boost/mpl/push_front_fwd.hpp \
 /usr/include/boost/mpl/aux_/push_front_impl.hpp \
 /usr/include/boost/mpl/reverse_fold.hpp \
 /usr/include/boost/mpl/aux_/reverse_fold_impl.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/reverse_fold_impl.hpp \
 /usr/include/boost/fusion/algorithm/transformation/erase.hpp \
 /usr/include/boost/fusion/sequence/convert.hpp \
 /usr/include/boost/fusion/mpl/erase_key.hpp \
 /usr/include/boost/mpl/erase_key.hpp \
 /usr/include/boost/mpl/erase_key_fwd.hpp \
 /usr/include/boost/mpl/aux_/erase_key_impl.hpp \
 /usr/include/boost/fusion/algorithm/transformation/erase_key.hpp \
 /usr/include/boost/fusion/algorithm/query/find.hpp \
 /usr/include/boost/fusion/algorithm/query/find_if_fwd.hpp \
 /usr/include/boost/fusion/algorithm/query/detail/find_if.hpp \
 /usr/include/boost/fusion/algorithm/query/detail/segmented_find.hpp \
 /usr/include/boost/fusion/algorithm/query/find_fwd.hpp \
 /usr/include/boost/fusion/mpl/front.hpp /usr/include/boost/mpl/front.hpp \
 /usr/include/boost/mpl/front_fwd.hpp \
 /usr/include/boost/mpl/aux_/front_impl.hpp \
 /usr/include/boost/fusion/mpl/has_key.hpp \
 /usr/include/boost/fusion/sequence/intrinsic/has_key.hpp \
 /usr/include/boost/fusion/mpl/insert.hpp \
 /usr/include/boost/mpl/insert.hpp /usr/include/boost/mpl/insert_fwd.hpp \
 /usr/include/boost/mpl/aux_/insert_impl.hpp \
 /usr/include/boost/fusion/algorithm/transformation/insert.hpp \
 /usr/include/boost/fusion/mpl/insert_range.hpp \
 /usr/include/boost/mpl/insert_range.hpp \
 /usr/include/boost/mpl/insert_range_fwd.hpp \
 /usr/include/boost/mpl/aux_/insert_range_impl.hpp \
 /usr/include/boost/mpl/joint_view.hpp \
 /usr/include/boost/mpl/aux_/joint_iter.hpp \
 /usr/include/boost/mpl/aux_/lambda_spec.hpp \
 /usr/include/boost/mpl/aux_/iter_push_front.hpp \
 /usr/include/boost/type_traits/same_traits.hpp \
 /usr/include/boost/fusion/algorithm/transformation/insert_range.hpp \
 /usr/include/boost/fusion/mpl/pop_back.hpp \
 /usr/include/boost/mpl/pop_back.hpp \
 /usr/include/boost/mpl/pop_back_fwd.hpp \
 /usr/include/boost/mpl/aux_/pop_back_impl.hpp \
 /usr/include/boost/fusion/algorithm/transformation/pop_back.hpp \
 /usr/include/boost/fusion/iterator/iterator_adapter.hpp \
 /usr/include/boost/fusion/mpl/pop_front.hpp \
 /usr/include/boost/mpl/pop_front.hpp \
 /usr/include/boost/mpl/pop_front_fwd.hpp \
 /usr/include/boost/mpl/aux_/pop_front_impl.hpp \
 /usr/include/boost/fusion/algorithm/transformation/pop_front.hpp \
 /usr/include/boost/fusion/mpl/push_back.hpp \
 /usr/include/boost/mpl/push_back.hpp \
 /usr/include/boost/mpl/push_back_fwd.hpp \
 /usr/include/boost/mpl/aux_/push_back_impl.hpp \
 /usr/include/boost/fusion/mpl/push_front.hpp \
 /usr/include/boost/fusion/mpl/size.hpp \
 /usr/include/msgpack/adaptor/boost/msgpack_variant.hpp \
 /usr/include/msgpack/adaptor/boost/msgpack_variant_decl.hpp \
 /usr/include/msgpack/v1/adaptor/boost/msgpack_variant_decl.hpp \
 /usr/include/msgpack/adaptor/boost/string_ref.hpp \
 /usr/include/msgpack/v1/adaptor/boost/string_ref.hpp \
 /usr/include/boost/utility/string_ref.hpp \
 /usr/include/boost/io/ostream_put.hpp \
 /usr/include/boost/io/detail/buffer_fill.hpp \
 /usr/include/boost/io/detail/ostream_guard.hpp \
 /usr/include/boost/utility/string_ref_fwd.hpp \
 /usr/include/c++/12/iterator /usr/include/c++/12/bits/stream_iterator.h \
 /usr/include/msgpack/adaptor/ext.hpp \
 /usr/include/msgpack/adaptor/raw.hpp \
 /usr/include/msgpack/v2/adaptor/boost/msgpack_variant_decl.hpp \
 /usr/include/msgpack/v3/adaptor/boost/msgpack_variant_decl.hpp \
 /usr/include/msgpack/v1/adaptor/boost/msgpack_variant.hpp \
 /usr/include/msgpack/adaptor/nil.hpp \
 /usr/include/msgpack/adaptor/bool.hpp \
 /usr/include/msgpack/adaptor/float.hpp \
 /usr/include/msgpack/adaptor/string.hpp \
 /usr/include/msgpack/adaptor/vector_char.hpp \
 /usr/include/msgpack/adaptor/vector.hpp \
 /usr/include/msgpack/adaptor/map.hpp /usr/include/boost/variant.hpp \
 /usr/include/boost/variant/variant.hpp /usr/include/boost/type_index.hpp \
 /usr/include/boost/type_index/stl_type_index.hpp \
 /usr/include/boost/type_index/type_index_facade.hpp \
 /usr/include/boost/container_hash/hash_fwd.hpp \
 /usr/include/boost/core/demangle.hpp /usr/include/c++/12/cxxabi.h \
 /usr/include/x86_64-linux-gnu/c++/12/bits/cxxabi_tweaks.h \
 /usr/include/boost/type_traits/is_volatile.hpp \
 /usr/include/boost/variant/detail/config.hpp \
 /usr/include/boost/variant/variant_fwd.hpp \
 /usr/include/boost/blank_fwd.hpp \
 /usr/include/boost/preprocessor/enum.hpp \
 /usr/include/boost/preprocessor/enum_params.hpp \
 /usr/include/boost/preprocessor/enum_shifted_params.hpp \
 /usr/include/boost/variant/detail/substitute_fwd.hpp \
 /usr/include/boost/variant/detail/backup_holder.hpp \
 /usr/include/boost/variant/detail/enable_recursive_fwd.hpp \
 /usr/include/boost/variant/detail/forced_return.hpp \
 /usr/include/boost/variant/detail/initializer.hpp \
 /usr/include/boost/call_traits.hpp \
 /usr/include/boost/detail/call_traits.hpp \
 /usr/include/boost/type_traits/is_enum.hpp \
 /usr/include/boost/detail/reference_content.hpp \
 /usr/include/boost/type_traits/has_nothrow_copy.hpp \
 /usr/include/boost/type_traits/is_copy_constructible.hpp \
 /usr/include/boost/type_traits/is_constructible.hpp \
 /usr/include/boost/type_traits/is_destructible.hpp \
 /usr/include/boost/type_traits/is_default_constructible.hpp \
 /usr/include/boost/variant/recursive_wrapper_fwd.hpp \
 /usr/include/boost/type_traits/is_nothrow_move_constructible.hpp \
 /usr/include/boost/type_traits/enable_if.hpp \
 /usr/include/boost/variant/detail/move.hpp \
 /usr/include/boost/move/utility_core.hpp \
 /usr/include/boost/move/detail/config_begin.hpp \
 /usr/include/boost/move/detail/workaround.hpp \
 /usr/include/boost/move/core.hpp \
 /usr/include/boost/move/detail/config_end.hpp \
 /usr/include/boost/move/detail/meta_utils.hpp \
 /usr/include/boost/move/detail/meta_utils_core.hpp \
 /usr/include/boost/move/adl_move_swap.hpp \
 /usr/include/boost/mpl/pair.hpp \
 /usr/include/boost/variant/detail/make_variant_list.hpp \
 /usr/include/boost/mpl/list.hpp /usr/include/boost/mpl/limits/list.hpp \
 /usr/include/boost/mpl/list/list20.hpp \
 /usr/include/boost/mpl/list/list10.hpp \
 /usr/include/boost/mpl/list/list0.hpp \
 /usr/include/boost/mpl/list/aux_/push_front.hpp \
 /usr/include/boost/mpl/list/aux_/item.hpp \
 /usr/include/boost/mpl/list/aux_/tag.hpp \
 /usr/include/boost/mpl/list/aux_/pop_front.hpp \
 /usr/include/boost/mpl/list/aux_/push_back.hpp \
 /usr/include/boost/mpl/list/aux_/front.hpp \
 /usr/include/boost/mpl/list/aux_/clear.hpp \
 /usr/include/boost/mpl/list/aux_/O1_size.hpp \
 /usr/include/boost/mpl/list/aux_/size.hpp \
 /usr/include/boost/mpl/list/aux_/empty.hpp \
 /usr/include/boost/mpl/list/aux_/begin_end.hpp \
 /usr/include/boost/mpl/list/aux_/iterator.hpp \
 /usr/include/boost/mpl/list/aux_/include_preprocessed.hpp \
 /usr/include/boost/mpl/list/aux_/preprocessed/plain/list10.hpp \
 /usr/include/boost/mpl/list/aux_/preprocessed/plain/list20.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/list.hpp \
 /usr/include/boost/variant/detail/over_sequence.hpp \
 /usr/include/boost/variant/detail/visitation_impl.hpp \
 /usr/include/boost/variant/detail/cast_storage.hpp \
 /usr/include/boost/variant/detail/hash_variant.hpp \
 /usr/include/boost/variant/static_visitor.hpp \
 /usr/include/boost/variant/apply_visitor.hpp \
 /usr/include/boost/variant/detail/apply_visitor_unary.hpp \
 /usr/include/boost/move/utility.hpp /usr/include/boost/move/traits.hpp \
 /usr/include/boost/move/detail/type_traits.hpp \
 /usr/include/boost/utility/declval.hpp \
 /usr/include/boost/type_traits/copy_cv_ref.hpp \
 /usr/include/boost/type_traits/copy_cv.hpp \
 /usr/include/boost/type_traits/add_volatile.hpp \
 /usr/include/boost/type_traits/copy_reference.hpp \
 /usr/include/boost/variant/detail/has_result_type.hpp \
 /usr/include/boost/variant/detail/apply_visitor_binary.hpp \
 /usr/include/boost/variant/detail/apply_visitor_delayed.hpp \
 /usr/include/boost/functional/hash_fwd.hpp \
 /usr/include/boost/variant/detail/std_hash.hpp \
 /usr/include/boost/blank.hpp \
 /usr/include/boost/detail/templated_streams.hpp \
 /usr/include/boost/type_traits/is_pod.hpp \
 /usr/include/boost/type_traits/is_scalar.hpp \
 /usr/include/boost/type_traits/is_member_pointer.hpp \
 /usr/include/boost/type_traits/is_stateless.hpp \
 /usr/include/boost/type_traits/has_trivial_constructor.hpp \
 /usr/include/boost/type_traits/has_trivial_copy.hpp \
 /usr/include/boost/type_traits/has_trivial_destructor.hpp \
 /usr/include/boost/integer/common_factor_ct.hpp \
 /usr/include/boost/integer_fwd.hpp \
 /usr/include/boost/type_traits/aligned_storage.hpp \
 /usr/include/boost/type_traits/alignment_of.hpp \
 /usr/include/boost/type_traits/type_with_alignment.hpp \
 /usr/include/boost/type_traits/has_nothrow_constructor.hpp \
 /usr/include/boost/type_traits/is_nothrow_move_assignable.hpp \
 /usr/include/boost/type_traits/has_trivial_move_assign.hpp \
 /usr/include/boost/type_traits/is_assignable.hpp \
 /usr/include/boost/type_traits/has_nothrow_assign.hpp \
 /usr/include/boost/core/no_exceptions_support.hpp \
 /usr/include/boost/mpl/find_if.hpp \
 /usr/include/boost/mpl/aux_/find_if_pred.hpp \
 /usr/include/boost/mpl/aux_/iter_apply.hpp \
 /usr/include/boost/mpl/iter_fold_if.hpp \
 /usr/include/boost/mpl/logical.hpp /usr/include/boost/mpl/always.hpp \
 /usr/include/boost/mpl/aux_/iter_fold_if_impl.hpp \
 /usr/include/boost/mpl/aux_/preprocessed/gcc/iter_fold_if_impl.hpp \
 /usr/include/boost/mpl/max_element.hpp \
 /usr/include/boost/mpl/same_as.hpp /usr/include/boost/mpl/sizeof.hpp \
 /usr/include/boost/mpl/transform.hpp \
 /usr/include/boost/mpl/pair_view.hpp \
 /usr/include/boost/mpl/iterator_category.hpp \
 /usr/include/boost/mpl/min_max.hpp \
 /usr/include/boost/mpl/aux_/inserter_algorithm.hpp \
 /usr/include/boost/mpl/back_inserter.hpp \
 /usr/include/boost/mpl/inserter.hpp \
 /usr/include/boost/mpl/front_inserter.hpp \
 /usr/include/boost/variant/detail/variant_io.hpp \
 /usr/include/boost/variant/recursive_variant.hpp \
 /usr/include/boost/variant/detail/enable_recursive.hpp \
 /usr/include/boost/variant/detail/substitute.hpp \
 /usr/include/boost/mpl/aux_/preprocessor/repeat.hpp \
 /usr/include/boost/preprocessor/iterate.hpp \
 /usr/include/boost/variant/recursive_wrapper.hpp \
 /usr/include/boost/checked_delete.hpp \
 /usr/include/boost/core/checked_delete.hpp \
 /usr/include/boost/mpl/equal.hpp /usr/include/boost/variant/get.hpp \
 /usr/include/boost/utility/addressof.hpp \
 /usr/include/boost/variant/detail/element_index.hpp \
 /usr/include/boost/type_traits/add_pointer.hpp \
 /usr/include/boost/variant/visitor_ptr.hpp \
 /usr/include/boost/variant/bad_visit.hpp \
 /usr/include/boost/operators.hpp \
 /usr/include/msgpack/adaptor/boost/optional.hpp \
 /usr/include/msgpack/v1/adaptor/boost/optional.hpp \
 /usr/include/boost/optional.hpp /usr/include/boost/optional/optional.hpp \
 /usr/include/boost/core/explicit_operator_bool.hpp \
 /usr/include/boost/core/swap.hpp \
 /usr/include/boost/optional/bad_optional_access.hpp \
 /usr/include/boost/type_traits/decay.hpp \
 /usr/include/boost/type_traits/remove_bounds.hpp \
 /usr/include/boost/type_traits/remove_extent.hpp \
 /usr/include/boost/none.hpp /usr/include/boost/none_t.hpp \
 /usr/include/boost/utility/compare_pointees.hpp \
 /usr/include/boost/optional/optional_fwd.hpp \
 /usr/include/boost/optional/detail/optional_config.hpp \
 /usr/include/boost/optional/detail/optional_factory_support.hpp \
 /usr/include/boost/optional/detail/optional_aligned_storage.hpp \
 /usr/include/boost/optional/detail/optional_trivially_copyable_base.hpp \
 /usr/include/boost/optional/detail/optional_reference_spec.hpp \
 /usr/include/boost/optional/detail/optional_relops.hpp \
 /usr/include/boost/optional/detail/optional_swap.hpp \
 /usr/include/msgpack/adaptor/boost/string_ref.hpp \
 /usr/include/msgpack/adaptor/boost/string_view.hpp \
 /usr/include/msgpack/v1/adaptor/boost/string_view.hpp \
 /usr/include/boost/utility/string_view.hpp \
 /usr/include/boost/utility/string_view_fwd.hpp \
 /work/main/shared/include/shoal/errors.hpp \
 /work/main/shared/include/shoal/internal/reply.h \
 /usr/include/c++/12/variant \
 /work/main/shared/include/shoal/internal/error_info.h
