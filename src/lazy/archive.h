/* lazy/archive — libarchive: image layers (tar, gzip, zstd) and rootfs imports.
 * Loaded on first use; see lazy/lazy.h. Include this instead of the
 * library's header. */
#ifndef BOXLET_LAZY_ARCHIVE_H
#define BOXLET_LAZY_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "lazy/lazy.h"

#define BX_ARCHIVE_FNS(X)                                                                          \
    X(archive_entry_copy_hardlink)                                                                 \
    X(archive_entry_copy_pathname)                                                                 \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_gid)                                                                           \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_set_gid)                                                                       \
    X(archive_entry_set_hardlink)                                                                  \
    X(archive_entry_set_pathname)                                                                  \
    X(archive_entry_set_uid)                                                                       \
    X(archive_entry_size)                                                                          \
    X(archive_entry_uid)                                                                           \
    X(archive_errno)                                                                               \
    X(archive_error_string)                                                                        \
    X(archive_read_data_block)                                                                     \
    X(archive_read_free)                                                                           \
    X(archive_read_new)                                                                            \
    X(archive_read_next_header)                                                                    \
    X(archive_read_open_fd)                                                                        \
    X(archive_read_open_filename)                                                                  \
    X(archive_read_support_filter_all)                                                             \
    X(archive_read_support_filter_bzip2)                                                           \
    X(archive_read_support_filter_gzip)                                                            \
    X(archive_read_support_filter_lz4)                                                             \
    X(archive_read_support_filter_lzma)                                                            \
    X(archive_read_support_filter_xz)                                                              \
    X(archive_read_support_filter_zstd)                                                            \
    X(archive_read_support_format_tar)                                                             \
    X(archive_version_details)                                                                     \
    X(archive_write_close)                                                                         \
    X(archive_write_data_block)                                                                    \
    X(archive_write_disk_new)                                                                      \
    X(archive_write_disk_set_options)                                                              \
    X(archive_write_finish_entry)                                                                  \
    X(archive_write_free)                                                                          \
    X(archive_write_header)

LAZY_DECLARE(archive, BX_ARCHIVE_FNS)

#ifndef BX_LAZY_IMPL
#define archive_entry_copy_hardlink (bx_archive()->archive_entry_copy_hardlink)
#define archive_entry_copy_pathname (bx_archive()->archive_entry_copy_pathname)
#define archive_entry_filetype (bx_archive()->archive_entry_filetype)
#define archive_entry_gid (bx_archive()->archive_entry_gid)
#define archive_entry_hardlink (bx_archive()->archive_entry_hardlink)
#define archive_entry_pathname (bx_archive()->archive_entry_pathname)
#define archive_entry_set_gid (bx_archive()->archive_entry_set_gid)
#define archive_entry_set_hardlink (bx_archive()->archive_entry_set_hardlink)
#define archive_entry_set_pathname (bx_archive()->archive_entry_set_pathname)
#define archive_entry_set_uid (bx_archive()->archive_entry_set_uid)
#define archive_entry_size (bx_archive()->archive_entry_size)
#define archive_entry_uid (bx_archive()->archive_entry_uid)
#define archive_errno (bx_archive()->archive_errno)
#define archive_error_string (bx_archive()->archive_error_string)
#define archive_read_data_block (bx_archive()->archive_read_data_block)
#define archive_read_free (bx_archive()->archive_read_free)
#define archive_read_new (bx_archive()->archive_read_new)
#define archive_read_next_header (bx_archive()->archive_read_next_header)
#define archive_read_open_fd (bx_archive()->archive_read_open_fd)
#define archive_read_open_filename (bx_archive()->archive_read_open_filename)
#define archive_read_support_filter_all (bx_archive()->archive_read_support_filter_all)
#define archive_read_support_filter_bzip2 (bx_archive()->archive_read_support_filter_bzip2)
#define archive_read_support_filter_gzip (bx_archive()->archive_read_support_filter_gzip)
#define archive_read_support_filter_lz4 (bx_archive()->archive_read_support_filter_lz4)
#define archive_read_support_filter_lzma (bx_archive()->archive_read_support_filter_lzma)
#define archive_read_support_filter_xz (bx_archive()->archive_read_support_filter_xz)
#define archive_read_support_filter_zstd (bx_archive()->archive_read_support_filter_zstd)
#define archive_read_support_format_tar (bx_archive()->archive_read_support_format_tar)
#define archive_version_details (bx_archive()->archive_version_details)
#define archive_write_close (bx_archive()->archive_write_close)
#define archive_write_data_block (bx_archive()->archive_write_data_block)
#define archive_write_disk_new (bx_archive()->archive_write_disk_new)
#define archive_write_disk_set_options (bx_archive()->archive_write_disk_set_options)
#define archive_write_finish_entry (bx_archive()->archive_write_finish_entry)
#define archive_write_free (bx_archive()->archive_write_free)
#define archive_write_header (bx_archive()->archive_write_header)
#endif

#endif
