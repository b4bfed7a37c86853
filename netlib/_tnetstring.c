/* netlib._tnetstring: tnetstrings in C, for writing and reading flow files.

   The format is that of netlib/tnetstring.py (read its docstring first): "<length>:" then
   the payload, then one tag byte. That module is the reference; this one does the same
   work a few times faster and is optional (setup.py builds it when a compiler is there).

   encode(value, specs, fallback) -> bytes

   Plain values (bytes, str, int, float, bool, None, and lists, tuples and dicts of them)
   are encoded here exactly as tnetstring.dumps encodes them, subclasses included (as their
   base type, as encode_leaf does).

   Model objects are encoded from ``specs``, a dict from an exact type to a tuple
   (getter, keys, optional, tail, guard) that libmproxy/flow/encode.py builds from the
   models' own state tables:
     - guard: None, or a callable; when guard(obj) is true, obj is handed to fallback;
     - getter: obj -> a tuple of values, one per key (or, when keys is None, obj -> the
       one value to encode in obj's place);
     - keys: a tuple of already-encoded dict keys (bytes), or None;
     - optional: None, or a tuple of bools: a key whose flag is true is left out when its
       value is None;
     - tail: bytes appended to the dict's payload as they are (already-encoded pairs).
   Anything else goes to fallback(obj), which returns obj's encoding as bytes (or raises,
   for example the TypeError of a value the format cannot carry).

   Byte strings longer than ``COPY_LIMIT`` raise LargeValue instead: the Python encoder
   writes a large body with a single copy, where this one would copy it several times
   (into the buffer, then along with each container around it), so the caller leaves such
   flows to it.

   decode(data, begin, end) -> value

   The value whose payload is data[begin:end] and whose tag is data[end], as
   tnetstring._decode_value returns it. Malformed input raises a bare ValueError: the
   caller then runs the Python decoder on the same bytes, which says what is wrong and
   where, so every message about damage is written once, in Python.

   Why C: encoding every flow is what recording costs a busy proxy (the Python encoder
   spends about 35 us on a small HTTP flow, this one 9), and decoding is most of what
   loading a flow file costs (about 100 us a flow in Python); both are almost all
   interpreting per-value steps that take nanoseconds here. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static PyObject *LargeValue;
static Py_ssize_t copy_limit = 64 * 1024;

/* --- the output buffer ------------------------------------------------------------ */

typedef struct {
    char *buf;
    Py_ssize_t len;
    Py_ssize_t cap;
    PyObject *specs;
    PyObject *fallback;
} Encoder;

static int
reserve(Encoder *e, Py_ssize_t extra)
{
    if (extra <= e->cap - e->len)
        return 0;
    Py_ssize_t cap = e->cap ? e->cap : 2048;
    while (cap - e->len < extra) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *buf = PyMem_Realloc(e->buf, cap);
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    e->buf = buf;
    e->cap = cap;
    return 0;
}

static int
write_raw(Encoder *e, const char *data, Py_ssize_t size)
{
    if (reserve(e, size) < 0)
        return -1;
    memcpy(e->buf + e->len, data, size);
    e->len += size;
    return 0;
}

/* The decimal digits of n at dst; returns how many. (snprintf cost a fifth of the
   encoding time of a small flow: every value has a length prefix.) */
static int
write_digits(char *dst, unsigned long long n)
{
    char digits[24];
    int count = 0;
    do {
        digits[count++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    for (int i = 0; i < count; i++)
        dst[i] = digits[count - 1 - i];
    return count;
}

/* "<size>:" at dst; returns its length. */
static int
write_prefix(char *dst, Py_ssize_t size)
{
    int n = write_digits(dst, (unsigned long long)size);
    dst[n] = ':';
    return n + 1;
}

/* "<size>:<payload><tag>" for a payload at hand. */
static int
write_leaf(Encoder *e, const char *payload, Py_ssize_t size, char tag)
{
    char prefix[24];
    int n = write_prefix(prefix, size);
    if (reserve(e, n + size + 1) < 0)
        return -1;
    memcpy(e->buf + e->len, prefix, n);
    memcpy(e->buf + e->len + n, payload, size);
    e->len += n + size;
    e->buf[e->len++] = tag;
    return 0;
}

/* A container's payload was written from ``start`` on: put its length prefix in front
   (moving the payload, a few hundred bytes for a flow's parts) and its tag after it. */
static int
close_container(Encoder *e, Py_ssize_t start, char tag)
{
    Py_ssize_t size = e->len - start;
    char prefix[24];
    int n = write_prefix(prefix, size);
    if (reserve(e, n + 1) < 0)
        return -1;
    memmove(e->buf + start + n, e->buf + start, size);
    memcpy(e->buf + start, prefix, n);
    e->len += n;
    e->buf[e->len++] = tag;
    return 0;
}

/* --- plain values ---------------------------------------------------------------- */

static int encode_value(Encoder *e, PyObject *value);

static int
encode_bytes(Encoder *e, PyObject *value)
{
    Py_ssize_t size = PyBytes_GET_SIZE(value);
    if (size > copy_limit) {
        PyErr_SetString(LargeValue, "a byte string above COPY_LIMIT");
        return -1;
    }
    return write_leaf(e, PyBytes_AS_STRING(value), size, ',');
}

static int
encode_str(Encoder *e, PyObject *value)
{
    Py_ssize_t size;
    const char *data = PyUnicode_AsUTF8AndSize(value, &size);
    if (data == NULL)
        return -1;
    return write_leaf(e, data, size, ';');
}

static int
encode_int(Encoder *e, PyObject *value)
{
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (number == -1 && PyErr_Occurred())
        return -1;
    if (!overflow) {
        char digits[32];
        int n = 0;
        if (number < 0)
            digits[n++] = '-';
        /* The magnitude as unsigned: -LLONG_MIN does not fit a long long. */
        n += write_digits(digits + n, number < 0 ? 0ULL - (unsigned long long)number
                                                 : (unsigned long long)number);
        return write_leaf(e, digits, n, '#');
    }
    PyObject *text = PyObject_Str(value);
    if (text == NULL)
        return -1;
    Py_ssize_t size;
    const char *data = PyUnicode_AsUTF8AndSize(text, &size);
    int result = data == NULL ? -1 : write_leaf(e, data, size, '#');
    Py_DECREF(text);
    return result;
}

static int
encode_float(Encoder *e, PyObject *value)
{
    /* What float.__repr__ writes. */
    char *text = PyOS_double_to_string(PyFloat_AS_DOUBLE(value), 'r', 0, Py_DTSF_ADD_DOT_0,
                                       NULL);
    if (text == NULL)
        return -1;
    int result = write_leaf(e, text, (Py_ssize_t)strlen(text), '^');
    PyMem_Free(text);
    return result;
}

static int
encode_sequence(Encoder *e, PyObject *value)
{
    PyObject *items = PySequence_Fast(value, "expected a sequence");
    if (items == NULL)
        return -1;
    Py_ssize_t start = e->len;
    int result = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(items); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(items, i);
        Py_INCREF(item); /* a list can shrink under us while a fallback runs */
        result = encode_value(e, item);
        Py_DECREF(item);
        if (result < 0)
            break;
    }
    Py_DECREF(items);
    return result < 0 ? -1 : close_container(e, start, ']');
}

static int
encode_key(Encoder *e, PyObject *key)
{
    if (PyBytes_Check(key) || PyUnicode_Check(key))
        return encode_value(e, key);
    PyObject *name = PyType_GetName(Py_TYPE(key));
    if (name != NULL) {
        PyErr_Format(PyExc_TypeError, "tnetstring dict keys must be bytes or str, not %U",
                     name);
        Py_DECREF(name);
    }
    return -1;
}

static int
encode_dict(Encoder *e, PyObject *value)
{
    /* A subclass (OrderedDict) keeps its own order: read it through items(). */
    PyObject *items = PyDict_CheckExact(value) ? PyDict_Items(value)
                                                : PyMapping_Items(value);
    if (items == NULL)
        return -1;
    Py_ssize_t start = e->len;
    int result = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items) && result == 0; i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "items() must give (key, value) pairs");
            result = -1;
            break;
        }
        result = encode_key(e, PyTuple_GET_ITEM(pair, 0));
        if (result == 0)
            result = encode_value(e, PyTuple_GET_ITEM(pair, 1));
    }
    Py_DECREF(items);
    return result < 0 ? -1 : close_container(e, start, '}');
}

/* A subclass of a plain type, encoded as its base type (an IntEnum as its int). */
static int
encode_as(Encoder *e, PyTypeObject *base, PyObject *value)
{
    PyObject *plain = PyObject_CallOneArg((PyObject *)base, value);
    if (plain == NULL)
        return -1;
    int result = encode_value(e, plain);
    Py_DECREF(plain);
    return result;
}

/* --- model objects --------------------------------------------------------------- */

static int
encode_fallback(Encoder *e, PyObject *value)
{
    PyObject *encoded = PyObject_CallOneArg(e->fallback, value);
    if (encoded == NULL)
        return -1;
    int result;
    if (PyBytes_Check(encoded)) {
        result = write_raw(e, PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded));
    } else {
        PyErr_Format(PyExc_TypeError, "the fallback encoder returned %.200s, not bytes",
                     Py_TYPE(encoded)->tp_name);
        result = -1;
    }
    Py_DECREF(encoded);
    return result;
}

static int
spec_error(const char *what)
{
    PyErr_Format(PyExc_TypeError, "malformed encoding spec: %s", what);
    return -1;
}

static int
encode_object(Encoder *e, PyObject *value, PyObject *spec)
{
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 5)
        return spec_error("not a 5-tuple");
    PyObject *getter = PyTuple_GET_ITEM(spec, 0);
    PyObject *keys = PyTuple_GET_ITEM(spec, 1);
    PyObject *optional = PyTuple_GET_ITEM(spec, 2);
    PyObject *tail = PyTuple_GET_ITEM(spec, 3);
    PyObject *guard = PyTuple_GET_ITEM(spec, 4);

    if (guard != Py_None) {
        PyObject *refused = PyObject_CallOneArg(guard, value);
        if (refused == NULL)
            return -1;
        int truth = PyObject_IsTrue(refused);
        Py_DECREF(refused);
        if (truth < 0)
            return -1;
        if (truth)
            return encode_fallback(e, value);
    }
    PyObject *values = PyObject_CallOneArg(getter, value);
    if (values == NULL)
        return -1;
    int result = 0;
    if (keys == Py_None) {
        result = encode_value(e, values);
        Py_DECREF(values);
        return result;
    }
    Py_ssize_t count = PyTuple_Check(keys) ? PyTuple_GET_SIZE(keys) : -1;
    if (count < 0 || !PyTuple_Check(values) || PyTuple_GET_SIZE(values) != count
            || !PyBytes_Check(tail)
            || (optional != Py_None
                && (!PyTuple_Check(optional) || PyTuple_GET_SIZE(optional) != count))) {
        Py_DECREF(values);
        return spec_error("keys, values, optional and tail do not fit together");
    }
    Py_ssize_t start = e->len;
    for (Py_ssize_t i = 0; i < count && result == 0; i++) {
        PyObject *item = PyTuple_GET_ITEM(values, i);
        if (item == Py_None && optional != Py_None
                && PyTuple_GET_ITEM(optional, i) == Py_True)
            continue;
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        if (!PyBytes_Check(key)) {
            result = spec_error("a key is not bytes");
            break;
        }
        result = write_raw(e, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key));
        if (result == 0)
            result = encode_value(e, item);
    }
    Py_DECREF(values);
    if (result < 0 || write_raw(e, PyBytes_AS_STRING(tail), PyBytes_GET_SIZE(tail)) < 0)
        return -1;
    return close_container(e, start, '}');
}

/* --- dispatch -------------------------------------------------------------------- */

static int
encode_nested(Encoder *e, PyObject *value)
{
    PyTypeObject *type = Py_TYPE(value);
    if (type == &PyDict_Type)
        return encode_dict(e, value);
    if (type == &PyList_Type || type == &PyTuple_Type)
        return encode_sequence(e, value);
    PyObject *spec = PyDict_GetItemWithError(e->specs, (PyObject *)type);
    if (spec != NULL) {
        /* Held: a fallback may change the specs dict while the object is encoded. */
        Py_INCREF(spec);
        int result = encode_object(e, value, spec);
        Py_DECREF(spec);
        return result;
    }
    if (PyErr_Occurred())
        return -1;
    /* Subclasses of the plain types, in the order tnetstring.encode_leaf checks them. */
    if (PyLong_Check(value))
        return encode_as(e, &PyLong_Type, value);
    if (PyFloat_Check(value))
        return encode_as(e, &PyFloat_Type, value);
    if (PyBytes_Check(value))
        return encode_as(e, &PyBytes_Type, value);
    if (PyUnicode_Check(value))
        return encode_as(e, &PyUnicode_Type, value);
    if (PyList_Check(value) || PyTuple_Check(value))
        return encode_sequence(e, value);
    if (PyDict_Check(value))
        return encode_dict(e, value);
    return encode_fallback(e, value);
}

static int
encode_value(Encoder *e, PyObject *value)
{
    PyTypeObject *type = Py_TYPE(value);
    if (type == &PyBytes_Type)
        return encode_bytes(e, value);
    if (type == &PyUnicode_Type)
        return encode_str(e, value);
    if (value == Py_None)
        return write_raw(e, "0:~", 3);
    if (type == &PyBool_Type)
        return value == Py_True ? write_raw(e, "4:true!", 7) : write_raw(e, "5:false!", 8);
    if (type == &PyLong_Type)
        return encode_int(e, value);
    if (type == &PyFloat_Type)
        return encode_float(e, value);
    /* Containers and objects recurse: a cycle must end in RecursionError, not a crash. */
    if (Py_EnterRecursiveCall(" while encoding a tnetstring"))
        return -1;
    int result = encode_nested(e, value);
    Py_LeaveRecursiveCall();
    return result;
}

static PyObject *
encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "encode(value, specs, fallback) takes 3 arguments");
        return NULL;
    }
    if (!PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "specs must be a dict");
        return NULL;
    }
    Encoder e = {NULL, 0, 0, args[1], args[2]};
    PyObject *result = NULL;
    if (encode_value(&e, args[0]) == 0)
        result = PyBytes_FromStringAndSize(e.buf, e.len);
    PyMem_Free(e.buf);
    return result;
}

/* --- decoding -------------------------------------------------------------------- */

/* As tnetstring.py: at most this many length digits, and this many nested containers. */
#define MAX_LENGTH_DIGITS 12
#define MAX_DEPTH 400

static PyObject *decode_value(const char *data, Py_ssize_t begin, Py_ssize_t end,
                              int depth);

static PyObject *
malformed(void)
{
    PyErr_SetString(PyExc_ValueError, "malformed tnetstring");
    return NULL;
}

/* The child at pos, inside a container whose payload ends at limit: "<digits>:" with
   1..MAX_LENGTH_DIGITS ASCII digits, and the child's tag before limit. */
static int
read_prefix(const char *data, Py_ssize_t pos, Py_ssize_t limit, Py_ssize_t *begin,
            Py_ssize_t *end)
{
    Py_ssize_t i = pos;
    long long length = 0;
    while (i < limit && i - pos <= MAX_LENGTH_DIGITS && data[i] >= '0' && data[i] <= '9')
        length = length * 10 + (data[i++] - '0');
    if (i == pos || i - pos > MAX_LENGTH_DIGITS || i >= limit || data[i] != ':')
        return -1;
    if (length >= limit - (i + 1))
        return -1;
    *begin = i + 1;
    *end = i + 1 + (Py_ssize_t)length;
    return 0;
}

/* A number read from its payload the way int() or float() reads bytes. */
static PyObject *
read_number(const char *payload, Py_ssize_t size, PyObject *(*read)(PyObject *))
{
    PyObject *text = PyBytes_FromStringAndSize(payload, size);
    if (text == NULL)
        return NULL;
    PyObject *number = read(text);
    Py_DECREF(text);
    return number;
}

static PyObject *
decode_int(const char *payload, Py_ssize_t size)
{
    /* The common case here; anything else (a sign, spaces, underscores, big numbers)
       as int() reads it. */
    Py_ssize_t i = payload[0] == '-' ? 1 : 0;
    if (size > i && size - i <= 18) {
        long long number = 0;
        for (; i < size && payload[i] >= '0' && payload[i] <= '9'; i++)
            number = number * 10 + (payload[i] - '0');
        if (i == size)
            return PyLong_FromLongLong(payload[0] == '-' ? -number : number);
    }
    return read_number(payload, size, PyNumber_Long);
}

static PyObject *
decode_list(const char *data, Py_ssize_t pos, Py_ssize_t limit, int depth)
{
    PyObject *items = PyList_New(0);
    while (items != NULL && pos < limit) {
        Py_ssize_t begin = 0, end = limit;
        PyObject *item = read_prefix(data, pos, limit, &begin, &end) < 0
            ? malformed() : decode_value(data, begin, end, depth + 1);
        if (item == NULL || PyList_Append(items, item) < 0)
            Py_CLEAR(items);
        Py_XDECREF(item);
        pos = end + 1;
    }
    return items;
}

static PyObject *
decode_dict(const char *data, Py_ssize_t pos, Py_ssize_t limit, int depth)
{
    PyObject *items = PyDict_New();
    while (items != NULL && pos < limit) {
        Py_ssize_t begin = 0, end = limit;
        PyObject *key = NULL, *value = NULL;
        if (read_prefix(data, pos, limit, &begin, &end) == 0)
            key = decode_value(data, begin, end, depth + 1);
        pos = end + 1;
        /* A key is bytes or str, and has a value after it. */
        if (key != NULL && (PyBytes_CheckExact(key) || PyUnicode_CheckExact(key))
                && pos < limit && read_prefix(data, pos, limit, &begin, &end) == 0) {
            value = decode_value(data, begin, end, depth + 1);
            pos = end + 1;
        }
        if (value == NULL || PyDict_SetItem(items, key, value) < 0) {
            if (!PyErr_Occurred())
                malformed();
            Py_CLEAR(items);
        }
        Py_XDECREF(key);
        Py_XDECREF(value);
    }
    return items;
}

static PyObject *
decode_value(const char *data, Py_ssize_t begin, Py_ssize_t end, int depth)
{
    const char *payload = data + begin;
    Py_ssize_t size = end - begin;
    switch (data[end]) {
    case ',':
        return PyBytes_FromStringAndSize(payload, size);
    case ';':
        return PyUnicode_DecodeUTF8(payload, size, "strict");
    case '#':
        return size ? decode_int(payload, size) : malformed();
    case '^':
        return read_number(payload, size, PyFloat_FromString);
    case '!':
        if (size == 4 && memcmp(payload, "true", 4) == 0)
            Py_RETURN_TRUE;
        if (size == 5 && memcmp(payload, "false", 5) == 0)
            Py_RETURN_FALSE;
        return malformed();
    case '~':
        if (size)
            return malformed();
        Py_RETURN_NONE;
    case ']':
    case '}':
        if (size && depth > MAX_DEPTH)
            return malformed();
        return data[end] == ']' ? decode_list(data, begin, end, depth)
                                : decode_dict(data, begin, end, depth);
    default:
        return malformed();
    }
}

static PyObject *
decode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t begin, end;
    if (nargs != 3 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "decode(data: bytes, begin, end)");
        return NULL;
    }
    begin = PyLong_AsSsize_t(args[1]);
    end = PyLong_AsSsize_t(args[2]);
    if (PyErr_Occurred())
        return NULL;
    if (begin < 0 || end < begin || end >= PyBytes_GET_SIZE(args[0]))
        return malformed();
    return decode_value(PyBytes_AS_STRING(args[0]), begin, end, 0);
}

static PyMethodDef methods[] = {
    {"encode", (PyCFunction)(void (*)(void))encode, METH_FASTCALL,
     "encode(value, specs, fallback) -> bytes: the tnetstring of value (see the module)."},
    {"decode", (PyCFunction)(void (*)(void))decode, METH_FASTCALL,
     "decode(data, begin, end) -> the value whose payload is data[begin:end] (see the "
     "module)."},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
    LargeValue = PyErr_NewException("netlib._tnetstring.LargeValue", PyExc_ValueError, NULL);
    if (LargeValue == NULL || PyModule_AddObjectRef(module, "LargeValue", LargeValue) < 0)
        return -1;
    return PyModule_AddIntConstant(module, "COPY_LIMIT", (long)copy_limit);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "netlib._tnetstring",
    "tnetstrings in C, for flow files; see the comment at the top of netlib/_tnetstring.c.",
    0, methods, slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__tnetstring(void)
{
    return PyModuleDef_Init(&module_def);
}
