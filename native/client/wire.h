/*
 * The client's side of the warm server's protocol (org.jdryad.server.ClientWire): frames of
 * {u32 type, u32 length, payload}, little-endian, strings as u32 length + bytes.  Only framing
 * and encoding live here: what the messages mean is client.c's.
 */
#ifndef JDRYAD_CLIENT_WIRE_H
#define JDRYAD_CLIENT_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* client -> server */
#define CW_REQUEST 1      /* s cwd, u32 argc s*, u32 envc s*, u32 launcherc s* */
#define CW_STARTED 2      /* u32 pid */
#define CW_SPAWN_FAILED 3 /* s message */
#define CW_ENDED 4        /* u32 status, as a shell reports it */
#define CW_SYNCED 5       /* u32 token: every OUT frame before SYNC token has been written */
/* server -> client */
#define CW_OUT 101        /* u32 fd, bytes */
#define CW_SPAWN 102      /* s path, u32 argc s*, u32 envc s* */
#define CW_EXIT 103       /* u32 status */
#define CW_COLD 104       /* s reason */
#define CW_SYNC 105       /* u32 token: answer SYNCED once what came before is written */

#define CW_MAX_FRAME (64u << 20)

/* A frame being built (grows as needed; dies on allocation failure). */
struct cw_buf {
    unsigned char *data;
    size_t len, cap;
};

void cw_start(struct cw_buf *b, uint32_t type);
void cw_u32(struct cw_buf *b, uint32_t v);
void cw_str(struct cw_buf *b, const char *s, size_t n);
void cw_strs(struct cw_buf *b, char *const *v, size_t n);
/* Sends the frame (fills in its length); 0, or -1 with errno. */
int cw_send(int fd, struct cw_buf *b);

/* A received frame and a cursor over its payload. */
struct cw_frame {
    uint32_t type;
    unsigned char *data;
    uint32_t len, pos;
    int bad; /* set when a read ran past the end */
};

/* Reads one frame: 1, 0 at end of stream, -1 on error or a frame too large. */
int cw_read(int fd, struct cw_frame *f);
uint32_t cw_get_u32(struct cw_frame *f);
/* A NUL-terminated copy of the next string (malloc'd). */
char *cw_get_str(struct cw_frame *f);
/* The next u32 count then that many strings, as a NULL-terminated vector (malloc'd). */
char **cw_get_strs(struct cw_frame *f);

#endif
