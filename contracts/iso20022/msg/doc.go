// Package msg is the parent of the ISO 20022 messages Köpir reads and
// writes, one generated package per message, holding its root element's
// type:
//
//	head001  head.001.001.02  business application header (AppHdr)
//	pacs008  pacs.008.001.08  FI to FI customer credit transfer (out)
//	pacs002  pacs.002.001.10  payment status report (in)
//	pacs004  pacs.004.001.09  payment return (in)
//	camt053  camt.053.001.08  bank to customer statement (in)
//	camt054  camt.054.001.08  debit/credit notification (in)
//	camt056  camt.056.001.08  FI to FI payment cancellation request (out)
//	pain001  pain.001.001.09  customer credit transfer initiation (out)
//
// and for the depository link (government securities), whose messages
// carry the newer header:
//
//	head001v03  head.001.001.03  business application header (AppHdr)
//	reda006     reda.006.001.01  security creation request (out)
//	reda008     reda.008.001.01  security creation status advice (in)
//	sese024     sese.024.001.12  settlement transaction status advice (in)
//	sese025     sese.025.001.11  settlement transaction confirmation (in)
//	semt002     semt.002.001.11  securities balance custody report: holders (in)
//	seev031     seev.031.001.14  corporate action notification (in)
//	seev036     seev.036.001.15  corporate action movement confirmation (in)
//	pacs009     pacs.009.001.11  FI credit transfer: the coupon and
//	                             redemption cash leg (out)
//
// pacs.009.001.08, reda.007.001.01 and sese.023.001.11 are kept in
// contracts/iso20022/xsd but not generated: no route sends them yet.
//
// Everything else, down from the message definition
// (FIToFIPaymentStatusReportV10, BankToCustomerStatementV08…), is in
// contracts/iso20022/components. ISO 20022 puts a version in a component's
// name, so a name means one declaration in every schema that has it:
// GroupHeader93 is pacs.008's group header, pacs.002's is GroupHeader91,
// and camt.053 and camt.054 both use GroupHeader81, alike. Of these
// seventeen messages only Document differs between schemas (head.001.001.02
// and .03 both name their parties Party44Choice). One Go type per
// component is what lets one function read a camt.053 entry and a camt.054
// entry, or build a party for pacs.008 and pain.001; a component that some
// later schema declared differently would stay in each message that has
// it, with the types that refer to it.
//
// The packages are generated together, by `go generate` here, in four
// steps:
//
//  1. gowsdl v0.5.0 (a tool dependency) reads each message's types.wsdl, a
//     minimal WSDL that imports the official XSD from ../xsd, because gowsdl
//     reads only WSDL; it writes every type of the schema into the message;
//  2. ../typefix turns xs:decimal, xs:date(Time) and xs:gYearMonth types
//     into strings, xs:any into raw XML, and elements with a numeric
//     maxOccurs (RgltryRptg, up to 10) into slices; without it amounts lose
//     precision or print as 1e+06, dates are written empty, a second
//     regulatory report cannot be written, and camt.053/054 do not compile;
//  3. ../../gowsdlfix drops the unused imports gowsdl writes for a WSDL
//     without operations (and any misplaced XMLName; none appear here);
//  4. ../share compares the messages' types and moves those declared alike
//     everywhere, and referring only to such types, into ../components.
//     It needs all messages at once, which is why the steps are here and
//     not in each message's package.
//
// The generated structs have no XMLName and their tags no namespace: the
// root element and its namespace are given when encoding (isodoc.Marshal),
// so every element below inherits the message's default namespace whichever
// package its type is in, and decoding matches element names only, after
// the document was validated against its schema.
package msg

//go:generate go tool gowsdl -d . -p head001 -o head001.go head001/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/head.001.001.02.xsd head001/head001.go
//go:generate go run ../../gowsdlfix head001/head001.go

//go:generate go tool gowsdl -d . -p pacs008 -o pacs008.go pacs008/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/pacs.008.001.08.xsd pacs008/pacs008.go
//go:generate go run ../../gowsdlfix pacs008/pacs008.go

//go:generate go tool gowsdl -d . -p pacs002 -o pacs002.go pacs002/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/pacs.002.001.10.xsd pacs002/pacs002.go
//go:generate go run ../../gowsdlfix pacs002/pacs002.go

//go:generate go tool gowsdl -d . -p pacs004 -o pacs004.go pacs004/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/pacs.004.001.09.xsd pacs004/pacs004.go
//go:generate go run ../../gowsdlfix pacs004/pacs004.go

//go:generate go tool gowsdl -d . -p camt053 -o camt053.go camt053/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/camt.053.001.08.xsd camt053/camt053.go
//go:generate go run ../../gowsdlfix camt053/camt053.go

//go:generate go tool gowsdl -d . -p camt054 -o camt054.go camt054/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/camt.054.001.08.xsd camt054/camt054.go
//go:generate go run ../../gowsdlfix camt054/camt054.go

//go:generate go tool gowsdl -d . -p camt056 -o camt056.go camt056/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/camt.056.001.08.xsd camt056/camt056.go
//go:generate go run ../../gowsdlfix camt056/camt056.go

//go:generate go tool gowsdl -d . -p pain001 -o pain001.go pain001/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/pain.001.001.09.xsd pain001/pain001.go
//go:generate go run ../../gowsdlfix pain001/pain001.go

//go:generate go tool gowsdl -d . -p head001v03 -o head001v03.go head001v03/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/head.001.001.03.xsd head001v03/head001v03.go
//go:generate go run ../../gowsdlfix head001v03/head001v03.go

//go:generate go tool gowsdl -d . -p pacs009 -o pacs009.go pacs009/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/pacs.009.001.11.xsd pacs009/pacs009.go
//go:generate go run ../../gowsdlfix pacs009/pacs009.go

//go:generate go tool gowsdl -d . -p reda006 -o reda006.go reda006/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/reda.006.001.01.xsd reda006/reda006.go
//go:generate go run ../../gowsdlfix reda006/reda006.go

//go:generate go tool gowsdl -d . -p reda008 -o reda008.go reda008/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/reda.008.001.01.xsd reda008/reda008.go
//go:generate go run ../../gowsdlfix reda008/reda008.go

//go:generate go tool gowsdl -d . -p sese024 -o sese024.go sese024/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/sese.024.001.12.xsd sese024/sese024.go
//go:generate go run ../../gowsdlfix sese024/sese024.go

//go:generate go tool gowsdl -d . -p sese025 -o sese025.go sese025/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/sese.025.001.11.xsd sese025/sese025.go
//go:generate go run ../../gowsdlfix sese025/sese025.go

//go:generate go tool gowsdl -d . -p semt002 -o semt002.go semt002/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/semt.002.001.11.xsd semt002/semt002.go
//go:generate go run ../../gowsdlfix semt002/semt002.go

//go:generate go tool gowsdl -d . -p seev031 -o seev031.go seev031/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/seev.031.001.14.xsd seev031/seev031.go
//go:generate go run ../../gowsdlfix seev031/seev031.go

//go:generate go tool gowsdl -d . -p seev036 -o seev036.go seev036/types.wsdl
//go:generate go run ../typefix -xsd ../xsd/seev.036.001.15.xsd seev036/seev036.go
//go:generate go run ../../gowsdlfix seev036/seev036.go

//go:generate go run ../share -o ../components/components.go -import github.com/minfin-kz/kopir/contracts/iso20022/components head001/head001.go pacs008/pacs008.go pacs002/pacs002.go pacs004/pacs004.go camt053/camt053.go camt054/camt054.go camt056/camt056.go pain001/pain001.go head001v03/head001v03.go pacs009/pacs009.go reda006/reda006.go reda008/reda008.go sese024/sese024.go sese025/sese025.go semt002/semt002.go seev031/seev031.go seev036/seev036.go
