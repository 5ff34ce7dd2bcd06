# Records with __slots__ (the order record), read from C by their slots' offsets.
#
# A compiled kernel that reads an Order's fields through PyObject_GetAttr pays ~80 instructions
# a field (type lookup, descriptor, call); a slot read by its offset is one load. SlotLayout
# resolves, once, the offsets of the named slots of one class (each must be a plain object
# slot of that exact class, checked at construction); get(o, i) is field i of an instance
# whose type the caller has checked is cls exactly (`type(o) is layout.cls`); a slot never set
# raises AttributeError, as Python does; put(o, i, v) stores v in field i (the same check is
# the caller's). orderrec.pxd's OrderMaker builds Orders this way.
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

cdef class SlotLayout:
    cdef readonly object cls
    cdef readonly tuple names
    cdef readonly Py_ssize_t n
    cdef Py_ssize_t* off                 # byte offset of each slot in an instance

    cdef inline object get(self, object o, Py_ssize_t i):
        cdef PyObject* v = (<PyObject**>((<char*><PyObject*>o) + self.off[i]))[0]
        if v == NULL:
            return self.unset(i)          # raises; out of line, so that get inlines
        return <object>v

    cdef object unset(self, Py_ssize_t i)

    cdef inline void put(self, object o, Py_ssize_t i, object v) noexcept:
        cdef PyObject** p = <PyObject**>((<char*><PyObject*>o) + self.off[i])
        cdef PyObject* old = p[0]
        Py_INCREF(v)
        p[0] = <PyObject*>v
        Py_XDECREF(old)

    cpdef Py_ssize_t index(self, str name) except -1
