/* The embedded server's batched UDP loop, compiled: recvmmsg, answer, sendmmsg.
 *
 * Optional: setup.py builds it when a C compiler and Python's headers are present;
 * udp_batch.py falls back to the same loop in Python otherwise (and tests run both).
 * It answers exactly what Responder.respond's fast path answers, from the same
 * prepared Answer objects and the same injected rng (rng.random()), and hands every
 * other datagram to Responder.respond itself, so there is one behaviour and one
 * careful path. Rules kept here, the same as udp_batch.py's:
 * - a datagram larger than its slot (MSG_TRUNC) is dropped, never answered;
 * - a source that cannot be answered (port 0, a first address octet flagged in
 *   `bad_table`) is dropped before an answer is built, and counted;
 * - every answer passes `admit(prefix, answer, now)` (response rate limiting) when
 *   admit is not None;
 * - sendmmsg's return value is honoured: a refused reply is skipped and counted and
 *   the rest of the batch is sent; EAGAIN drops the rest, counted;
 * - an exception from respond or admit is passed to on_error and that datagram
 *   dropped; the GIL is held throughout, so the static buffers are never shared.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define BATCH 64
#define RECV_SLOT 4096
#define SEND_SLOT 4096
#define ROUNDS 16

static struct mmsghdr rx_msgs[BATCH], tx_msgs[BATCH];
static struct iovec rx_iov[BATCH], tx_iov[BATCH];
static struct sockaddr_storage names[BATCH];
static unsigned char rx_buf[BATCH][RECV_SLOT];
static unsigned char tx_buf[BATCH][SEND_SLOT];

static PyObject *FixedType, *WeightedOneType, *WeightedRotationType;
static PyObject *s_counts, *s_counts_edns, *s_records, *s_cumulative, *s_doubled, *s_size,
    *s_answers, *s_pick;

static const unsigned char ONE_QUESTION[8] = {0, 1, 0, 0, 0, 0, 0, 0};
static const unsigned char ONE_QUESTION_OPT[8] = {0, 1, 0, 0, 0, 0, 0, 1};

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *f, *o, *r;
    if (!PyArg_ParseTuple(args, "OOO", &f, &o, &r)) return NULL;
    Py_XSETREF(FixedType, Py_NewRef(f));
    Py_XSETREF(WeightedOneType, Py_NewRef(o));
    Py_XSETREF(WeightedRotationType, Py_NewRef(r));
    Py_RETURN_NONE;
}

/* bisect_right over a tuple of floats */
static Py_ssize_t bisect_right(PyObject *cumulative, double x) {
    Py_ssize_t lo = 0, hi = PyTuple_GET_SIZE(cumulative);
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (x < PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(cumulative, mid))) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* The answer records for one query, as a new reference to bytes (NULL on error). */
static PyObject *pick(PyObject *answer, PyObject *rng, PyObject *rng_random) {
    PyTypeObject *t = Py_TYPE(answer);
    if ((PyObject *)t == FixedType) return PyObject_GetAttr(answer, s_records);
    if ((PyObject *)t != WeightedOneType && (PyObject *)t != WeightedRotationType)
        return PyObject_CallMethodOneArg(answer, s_pick, rng);
    PyObject *cumulative = PyObject_GetAttr(answer, s_cumulative);
    if (cumulative == NULL) return NULL;
    PyObject *u = PyObject_CallNoArgs(rng_random);
    if (u == NULL) { Py_DECREF(cumulative); return NULL; }
    double x = PyFloat_AsDouble(u);
    Py_DECREF(u);
    Py_ssize_t n = PyTuple_GET_SIZE(cumulative);
    Py_ssize_t i = bisect_right(cumulative, x * PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(cumulative, n - 1)));
    Py_DECREF(cumulative);
    if ((PyObject *)t == WeightedOneType) {
        PyObject *records = PyObject_GetAttr(answer, s_records);
        if (records == NULL) return NULL;
        PyObject *one = Py_NewRef(PyTuple_GET_ITEM(records, i));
        Py_DECREF(records);
        return one;
    }
    PyObject *doubled = PyObject_GetAttr(answer, s_doubled);
    PyObject *size_o = PyObject_GetAttr(answer, s_size);
    PyObject *count_o = PyObject_GetAttr(answer, s_answers);
    PyObject *out = NULL;
    if (doubled && size_o && count_o) {
        Py_ssize_t size = PyLong_AsSsize_t(size_o), count = PyLong_AsSsize_t(count_o);
        Py_ssize_t start = (i < count - 1 ? i : count - 1) * size;
        out = PyBytes_FromStringAndSize(PyBytes_AS_STRING(doubled) + start, count * size);
    }
    Py_XDECREF(doubled);
    Py_XDECREF(size_o);
    Py_XDECREF(count_o);
    return out;
}

/* Fast path: the answer to d[0:len] written into out (returns its length), 0 when the
 * careful path must answer, -1 on a Python error. Mirrors Responder.respond. */
static Py_ssize_t fast_answer(const unsigned char *d, Py_ssize_t len, unsigned char *out,
                              PyObject *answers, PyObject *rng, PyObject *rng_random,
                              const char *opt_plain, const char *opt_do) {
    if (len <= 16 || (d[2] & 0xF8)) return 0;
    const unsigned char *z = memchr(d + 12, 0, len - 12);
    if (z == NULL) return 0;
    Py_ssize_t p = z - d;
    int edns;
    if (memcmp(d + 4, ONE_QUESTION, 8) == 0) {
        if (p + 5 != len || d[p + 3] != 0 || d[p + 4] != 1) return 0;
        edns = 0;
    } else if (memcmp(d + 4, ONE_QUESTION_OPT, 8) == 0) {
        if (p + 16 != len || d[p + 3] != 0 || d[p + 4] != 1) return 0;
        if (d[p + 5] != 0 || d[p + 6] != 0 || d[p + 7] != 0x29) return 0;
        if (d[p + 11] != 0 || d[p + 14] != 0 || d[p + 15] != 0) return 0;
        edns = 1;
    } else {
        return 0;
    }
    Py_ssize_t keylen = p + 3 - 12;
    unsigned char key[300];
    if (keylen > (Py_ssize_t)sizeof(key)) return 0;
    for (Py_ssize_t k = 0; k < keylen; k++) {
        unsigned char c = d[12 + k];
        key[k] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
    }
    PyObject *keyo = PyBytes_FromStringAndSize((const char *)key, keylen);
    if (keyo == NULL) return -1;
    PyObject *answer = PyDict_GetItemWithError(answers, keyo); /* borrowed */
    Py_DECREF(keyo);
    if (answer == NULL) return PyErr_Occurred() ? -1 : 0;
    PyObject *counts = PyObject_GetAttr(answer, edns ? s_counts_edns : s_counts);
    if (counts == NULL) return -1;
    PyObject *records = pick(answer, rng, rng_random);
    if (records == NULL) { Py_DECREF(counts); return -1; }
    Py_ssize_t qlen = edns ? p + 5 - 12 : len - 12;
    Py_ssize_t rlen = PyBytes_GET_SIZE(records);
    Py_ssize_t total = 12 + qlen + rlen + (edns ? 11 : 0);
    if (total > 512) {  /* the careful path checks the client's payload */
        Py_DECREF(counts);
        Py_DECREF(records);
        return 0;
    }
    out[0] = d[0];
    out[1] = d[1];
    out[2] = 0x84 | (d[2] & 1);  /* QR AA, RD copied */
    out[3] = 0;
    memcpy(out + 4, PyBytes_AS_STRING(counts), 8);
    memcpy(out + 12, d + 12, qlen);
    memcpy(out + 12 + qlen, PyBytes_AS_STRING(records), rlen);
    if (edns) memcpy(out + 12 + qlen + rlen, (d[p + 12] >> 7) ? opt_do : opt_plain, 11);
    Py_DECREF(counts);
    Py_DECREF(records);
    return total;
}

static void report(PyObject *on_error) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL) {
        PyObject *r = PyObject_CallOneArg(on_error, value);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* serve(fd, answers, respond, rng, admit, now, addr_offset, prefix_octets, bad_table,
 *       opt_plain, opt_do, on_error, source_octets)
 *   -> (batches, queries, bad_sources, send_refused, fast_answers)
 * fast_answers: the NOERROR answers built here (the rest went through respond)
 * source_octets > 0: the careful path is called respond(data, True, address) (cookies) */
static PyObject *serve(PyObject *self, PyObject *args) {
    int fd, aoff, plen, slen;
    double now;
    PyObject *answers, *respond, *rng, *admit, *on_error;
    const char *bad, *opt_plain, *opt_do;
    Py_ssize_t bad_len, opt_len, opt_do_len;
    if (!PyArg_ParseTuple(args, "iO!OOOdiiy#y#y#Oi", &fd, &PyDict_Type, &answers, &respond, &rng,
                          &admit, &now, &aoff, &plen, &bad, &bad_len, &opt_plain, &opt_len,
                          &opt_do, &opt_do_len, &on_error, &slen))
        return NULL;
    if (bad_len != 256 || opt_len != 11 || opt_do_len != 11 || plen > 16 || aoff + plen > 28 ||
        slen < 0 || aoff + slen > 28) {
        PyErr_SetString(PyExc_ValueError, "bad table, OPT records or prefix of the wrong size");
        return NULL;
    }
    PyObject *rng_random = PyObject_GetAttrString(rng, "random");
    if (rng_random == NULL) return NULL;
    long batches = 0, queries = 0, bad_sources = 0, refused = 0, fast = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < BATCH; i++) {
            rx_iov[i].iov_base = rx_buf[i];
            rx_iov[i].iov_len = RECV_SLOT;
            memset(&rx_msgs[i].msg_hdr, 0, sizeof(struct msghdr));
            rx_msgs[i].msg_hdr.msg_name = &names[i];
            rx_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
            rx_msgs[i].msg_hdr.msg_iov = &rx_iov[i];
            rx_msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, rx_msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) break;
        batches++;
        queries += n;
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
            const unsigned char *a = (const unsigned char *)&names[i];
            if (bad[a[aoff]] || (a[2] == 0 && a[3] == 0)) {
                bad_sources++;
                continue;
            }
            Py_ssize_t len = rx_msgs[i].msg_len;
            Py_ssize_t size = fast_answer(rx_buf[i], len, tx_buf[m], answers, rng, rng_random,
                                          opt_plain, opt_do);
            PyObject *out = NULL;
            if (size < 0) { report(on_error); continue; }
            if (size > 0) fast++;
            if (size == 0) {
                PyObject *data = PyBytes_FromStringAndSize((const char *)rx_buf[i], len);
                if (data == NULL) { report(on_error); continue; }
                if (slen > 0)
                    out = PyObject_CallFunction(respond, "OOy#", data, Py_True,
                                                (const char *)a + aoff, (Py_ssize_t)slen);
                else
                    out = PyObject_CallOneArg(respond, data);
                Py_DECREF(data);
                if (out == NULL) { report(on_error); continue; }
                if (out == Py_None) { Py_DECREF(out); continue; }
            }
            if (admit != Py_None) {
                if (out == NULL) out = PyBytes_FromStringAndSize((const char *)tx_buf[m], size);
                PyObject *prefix = PyBytes_FromStringAndSize((const char *)a + aoff, plen);
                PyObject *admitted = NULL;
                if (out != NULL && prefix != NULL)
                    admitted = PyObject_CallFunction(admit, "OOd", prefix, out, now);
                Py_XDECREF(prefix);
                Py_XDECREF(out);
                out = admitted;
                if (out == NULL) { report(on_error); continue; }
                if (out == Py_None) { Py_DECREF(out); continue; }
            }
            if (out != NULL) {
                if (!PyBytes_Check(out) || PyBytes_GET_SIZE(out) > SEND_SLOT) {
                    Py_DECREF(out);
                    continue;
                }
                size = PyBytes_GET_SIZE(out);
                memcpy(tx_buf[m], PyBytes_AS_STRING(out), size);
                Py_DECREF(out);
            }
            tx_iov[m].iov_base = tx_buf[m];
            tx_iov[m].iov_len = size;
            memset(&tx_msgs[m].msg_hdr, 0, sizeof(struct msghdr));
            tx_msgs[m].msg_hdr.msg_name = &names[i];
            tx_msgs[m].msg_hdr.msg_namelen = rx_msgs[i].msg_hdr.msg_namelen;
            tx_msgs[m].msg_hdr.msg_iov = &tx_iov[m];
            tx_msgs[m].msg_hdr.msg_iovlen = 1;
            m++;
        }
        int done = 0;
        while (done < m) {
            int sent = sendmmsg(fd, tx_msgs + done, m - done, MSG_DONTWAIT);
            if (sent > 0) { done += sent; continue; }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) { refused += m - done; break; }
            refused++;
            done++;
        }
        if (n < BATCH) break;
    }
    Py_DECREF(rng_random);
    return Py_BuildValue("lllll", batches, queries, bad_sources, refused, fast);
}

/* Bump with every change to serve()'s or configure()'s arguments or results. */
#define FASTUDP_INTERFACE 2

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "configure(Fixed, WeightedOne, WeightedRotation)"},
    {"serve", serve, METH_VARARGS, "Answer every datagram waiting on fd, in batches."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastudp", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastudp(void) {
    s_counts = PyUnicode_InternFromString("counts");
    s_counts_edns = PyUnicode_InternFromString("counts_edns");
    s_records = PyUnicode_InternFromString("records");
    s_cumulative = PyUnicode_InternFromString("cumulative");
    s_doubled = PyUnicode_InternFromString("doubled");
    s_size = PyUnicode_InternFromString("size");
    s_answers = PyUnicode_InternFromString("answers");
    s_pick = PyUnicode_InternFromString("pick");
    PyObject *m = PyModule_Create(&module);
    /* udp_batch.py refuses a build whose INTERFACE differs from its own (a stale .so). */
    if (m != NULL && PyModule_AddIntConstant(m, "INTERFACE", FASTUDP_INTERFACE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
