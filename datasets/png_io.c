/* png_io.c -- 8-bit grayscale PNG files through libpng (png_io.h). */
#include <config.h>

#include "png_io.h"
#include "dataset_file.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpng's error callback: keep the message and jump back to the setjmp
 * of the call (libpng must not return from it). */
typedef struct {
    jmp_buf jmp;
    char msg[200];
} png_ctx;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg ? msg : "libpng error");
    longjmp(ctx->jmp, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* warnings (e.g. unknown chunks) are not errors */
}

static const char *color_type_name(int ct)
{
    switch (ct) {
    case PNG_COLOR_TYPE_GRAY:
        return "grayscale";
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        return "grayscale+alpha";
    case PNG_COLOR_TYPE_PALETTE:
        return "palette";
    case PNG_COLOR_TYPE_RGB:
        return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA:
        return "RGBA";
    }
    return "unknown colour type";
}

myo_status myo_png_read_gray8(const char *path, uint8_t **pixels, int *width, int *height)
{
    if (!path || !pixels || !width || !height)
        return myo_data_fail(MYO_ERR_ARG, "myo_png_read_gray8: NULL argument");
    *pixels = NULL, *width = 0, *height = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return myo_data_fail(MYO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8];
    size_t got = fread(sig, 1, sizeof sig, f);
    if (got < sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
        fclose(f);
        return myo_data_fail(MYO_ERR_DATA, "%s: not a PNG file (bad signature)", path);
    }
    png_ctx ctx;
    ctx.msg[0] = '\0';
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        fclose(f);
        return myo_data_fail(MYO_ERR_NOMEM, "%s: cannot create the libpng reader", path);
    }
    /* set after setjmp and used after a longjmp: volatile */
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    myo_status st = MYO_OK;
    if (setjmp(ctx.jmp)) {
        st = myo_data_fail(MYO_ERR_DATA, "%s: corrupt or truncated PNG: %s", path, ctx.msg);
        goto done;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, sizeof sig);
    png_set_user_limits(png, MYO_PNG_MAX_SIDE, MYO_PNG_MAX_SIDE);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ct = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ct, &interlace, NULL, NULL);
    if (ct != PNG_COLOR_TYPE_GRAY || depth != 8) {
        st = myo_data_fail(MYO_ERR_DATA,
                           "%s: %s PNG of bit depth %d: only 8-bit grayscale (no alpha) is read",
                           path, color_type_name(ct), depth);
        goto done;
    }
    if (w < 1 || h < 1 || w > MYO_PNG_MAX_SIDE || h > MYO_PNG_MAX_SIDE) {
        st = myo_data_fail(MYO_ERR_DATA, "%s: size %ux%u out of range", path, (unsigned)w,
                           (unsigned)h);
        goto done;
    }
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != w) {
        st = myo_data_fail(MYO_ERR_DATA, "%s: unexpected row size", path);
        goto done;
    }
    buf = malloc((size_t)w * h);
    rows = malloc((size_t)h * sizeof *rows);
    if (!buf || !rows) {
        st = myo_data_fail(MYO_ERR_NOMEM, "%s: cannot allocate %ux%u pixels", path, (unsigned)w,
                           (unsigned)h);
        goto done;
    }
    for (png_uint_32 r = 0; r < h; r++)
        rows[r] = buf + (size_t)r * w;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    *width = (int)w, *height = (int)h;
done:
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    free(rows);
    if (st != MYO_OK) {
        free(buf);
        return st;
    }
    *pixels = buf;
    return MYO_OK;
}

myo_status myo_png_write_gray8(const char *path, const uint8_t *pixels, int width, int height)
{
    if (!path || !pixels) return myo_data_fail(MYO_ERR_ARG, "myo_png_write_gray8: NULL argument");
    if (width < 1 || height < 1 || width > MYO_PNG_MAX_SIDE || height > MYO_PNG_MAX_SIDE)
        return myo_data_fail(MYO_ERR_ARG, "%s: size %dx%d out of range", path, width, height);
    FILE *f = fopen(path, "wb");
    if (!f) return myo_data_fail(MYO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    png_ctx ctx;
    ctx.msg[0] = '\0';
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        fclose(f);
        return myo_data_fail(MYO_ERR_NOMEM, "%s: cannot create the libpng writer", path);
    }
    if (setjmp(ctx.jmp)) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return myo_data_fail(MYO_ERR_IO, "%s: cannot write the PNG: %s", path, ctx.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int r = 0; r < height; r++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)r * (size_t)width));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0)
        return myo_data_fail(MYO_ERR_IO, "%s: cannot close: %s", path, strerror(errno));
    return MYO_OK;
}
