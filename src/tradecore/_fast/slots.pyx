"""See slots.pxd."""
from cpython.object cimport PyObject
from libc.stdlib cimport free, malloc

import types

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
        int flags
    int T_OBJECT_EX

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef class SlotLayout:
    """SlotLayout(cls, names): the offsets of cls's slots `names` (see slots.pxd)."""

    def __cinit__(self, cls, names):
        cdef PyMemberDef* m
        cdef Py_ssize_t i
        self.off = NULL
        if not isinstance(cls, type):
            raise TypeError(f"SlotLayout needs a class, got {cls!r}")
        self.cls = cls
        self.names = tuple(str(n) for n in names)
        self.n = len(self.names)
        self.off = <Py_ssize_t*>malloc(max(self.n, 1) * sizeof(Py_ssize_t))
        if self.off == NULL:
            raise MemoryError()
        for i, name in enumerate(self.names):
            d = cls.__dict__.get(name)
            if type(d) is not types.MemberDescriptorType:
                raise TypeError(f"{cls.__qualname__}.{name} is not a slot of this class")
            m = (<PyMemberDescrObject*><PyObject*>d).d_member
            if m.type != T_OBJECT_EX:
                raise TypeError(f"{cls.__qualname__}.{name} is not an object slot")
            self.off[i] = m.offset

    def __dealloc__(self):
        free(self.off)

    cdef object unset(self, Py_ssize_t i):
        raise AttributeError(f"{self.names[i]} is not set")

    cpdef Py_ssize_t index(self, str name) except -1:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.cls.__qualname__} layout has no field {name!r}") from None

    def read(self, o, Py_ssize_t i):
        """Field i of o (for tests; compiled callers use get)."""
        if type(o) is not self.cls:
            raise TypeError(f"expected a {self.cls.__qualname__}, got {type(o).__qualname__}")
        if i < 0 or i >= self.n:
            raise IndexError(i)
        return self.get(o, i)
