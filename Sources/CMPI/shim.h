// Open MPI's handles and constants are macros (MPI_COMM_WORLD expands to the
// address of a global), which Swift does not import: these getters return them.
#ifndef NNBATCH_CMPI_SHIM_H
#define NNBATCH_CMPI_SHIM_H

#include <mpi.h>
#include <signal.h>
#include <sys/prctl.h>

static inline MPI_Comm nnb_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype nnb_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype nnb_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype nnb_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype nnb_mpi_int(void) { return MPI_INT; }
static inline MPI_Datatype nnb_mpi_long_long(void) { return MPI_LONG_LONG; }
static inline MPI_Op nnb_mpi_op_max(void) { return MPI_MAX; }
static inline MPI_Errhandler nnb_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *nnb_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *nnb_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline MPI_Request nnb_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *nnb_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int nnb_mpi_success(void) { return MPI_SUCCESS; }
static inline int nnb_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int nnb_mpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
// prctl is variadic, which Swift does not import: the parent-death signal of this process.
static inline int nnb_set_parent_death_signal(int signal) { return prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0); }
static inline int nnb_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int nnb_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }

#endif
